//! `credits catalog export` and `credits catalog import FILE [--dry-run]`:
//! the catalog as TOML, an import as one change validated whole.
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Running, catalog_version, changes, quoted_credits};
use crate::support::{TestApp, image};

fn credits(app: &TestApp, args: &[&str]) -> Output {
    let database = &app.database.options;
    Command::new(env!("CARGO_BIN_EXE_credits"))
        .args(args)
        .env("CREDITS_DATABASE_URL", &database.url)
        .env("CREDITS_DATABASE_SCHEMA", database.schema.clone().unwrap_or_default())
        .env("CREDITS_LOG", "warn")
        .output()
        .expect("run credits")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn import(app: &TestApp, toml: &str, dry_run: bool) -> Output {
    let file = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(file.path(), toml).expect("write");
    let path = file.path().to_str().expect("a path");
    credits(app, &if dry_run { vec!["catalog", "import", path, "--dry-run"] } else { vec!["catalog", "import", path] })
}

#[tokio::test]
async fn the_export_is_the_seed_and_importing_it_changes_nothing() {
    let app = TestApp::start().await;
    let exported = credits(&app, &["catalog", "export"]);
    assert!(exported.status.success(), "{exported:?}");
    let text = stdout(&exported);
    let seed: migration::seed::Seed = toml::from_str(migration::seed::CATALOG_TOML).unwrap();
    assert_eq!(toml::from_str::<migration::seed::Seed>(&text).unwrap(), seed);
    let again = import(&app, &text, false);
    assert!(again.status.success(), "{again:?}");
    assert!(stdout(&again).contains("nothing to change"), "{}", stdout(&again));
    assert_eq!(catalog_version(&app).await, 1);
}

#[tokio::test]
async fn an_import_is_one_change_that_a_running_server_picks_up() {
    let app = TestApp::start().await;
    let _watching = Running(app.app.spawn_catalog_watcher());
    let text = stdout(&credits(&app, &["catalog", "export"]));
    let team = "[[plans]]\ncode = \"TEAM\"\nname = \"Team\"\nprice_cents = 5000\nmonthly_credits = 6000\npro_access = true\ncan_buy_tokens = true\n\n[[token_packs]]";
    let changed = text.replacen("sdxl = 3.0", "sdxl = 4.5", 1).replacen("[[token_packs]]", team, 1);
    assert_ne!(changed, text, "the export lists sdxl's price as `sdxl = 3.0`:\n{text}");

    let dry = import(&app, &changed, true);
    assert!(dry.status.success(), "{dry:?}");
    let report = stdout(&dry);
    assert!(report.contains("+ plan:TEAM") && report.contains("~ tool:text-to-image"), "{report}");
    assert!(report.contains("would make catalog version 2"), "{report}");
    assert_eq!(catalog_version(&app).await, 1, "a dry run changes nothing");

    let done = import(&app, &changed, false);
    assert!(done.status.success(), "{done:?}");
    assert!(stdout(&done).contains("made catalog version 2"), "{}", stdout(&done));
    let audit = changes(&app).await;
    assert_eq!(
        (audit.len(), audit[0]["change"].clone(), audit[0]["actor"].clone()),
        (2, json!("import"), json!("import"))
    );
    assert_eq!(audit[0]["after"]["tool:text-to-image"]["models"]["sdxl"], 4.5);
    // The running server sees the command's change by its periodic check.
    let started = Instant::now();
    while quoted_credits(&app, image(1)).await != 5 {
        assert!(started.elapsed() < Duration::from_secs(3), "the server still quotes the old price");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let plans = app.data(None, "{ plans { code } }", json!({})).await;
    assert!(plans["plans"].as_array().unwrap().iter().any(|p| p["code"] == "TEAM"));
}

#[tokio::test]
async fn a_bad_file_changes_nothing() {
    let app = TestApp::start().await;
    let text = stdout(&credits(&app, &["catalog", "export"]));
    let bad = [
        ("a zero price", text.replacen("sdxl = 3.0", "sdxl = 0.0", 1)),
        ("a negative price", text.replacen("sdxl = 3.0", "sdxl = -3.0", 1)),
        ("a price of a fraction of a thousandth", text.replacen("sdxl = 3.0", "sdxl = 3.0001", 1)),
        ("an unknown model", text.replacen("sdxl = 3.0", "sdxl-9 = 3.0", 1)),
        (
            "a dropped token pack",
            text.replacen("[[token_packs]]\nid = \"tokens-500\"", "[[token_packs]]\nid = \"tokens-501\"", 1),
        ),
        ("a multiplier of 0", text.replacen("2048 = 2.0", "2048 = 0.0", 1)),
        ("an unknown key", text.replacen("[[plans]]", "[[plans]]\nbonus = 1", 1)),
        ("no TOML", "plans = [".to_owned()),
    ];
    for (what, file) in bad {
        assert_ne!(file, text, "{what}: the edit must apply");
        let output = import(&app, &file, false);
        assert_eq!(output.status.code(), Some(1), "{what}: {output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("nothing was changed"), "{what}: {output:?}");
    }
    assert_eq!(catalog_version(&app).await, 1);
    assert_eq!(changes(&app).await.len(), 1);
    assert_eq!(quoted_credits(&app, image(1)).await, 3);
}
