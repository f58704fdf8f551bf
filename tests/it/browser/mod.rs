//! Tests in a real browser: headless Chromium driven through chromedriver
//! (WebDriver, with fantoccini) against the real server on port 0. Chromium
//! resolves no host but 127.0.0.1, so a page that reaches for anything but
//! the server fails visibly. Each test saves a screenshot of its page under
//! `target/screenshots/`.
//!
//! The tests are `#[ignore]`d so that a plain `cargo test` on a machine
//! without Chromium passes; `.ci/run` installs Chromium and runs them with
//! `--include-ignored`, and a run that includes them fails with the install
//! command when chromedriver is missing.
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

mod dashboard;
mod dashboard_refunds;
mod dashboard_usage;
mod graphiql;

/// Where chromedriver and Chromium are, unless these variables say otherwise.
const CHROMEDRIVER: (&str, &str) = ("CHROMEDRIVER", "/usr/bin/chromedriver");
const CHROMIUM: (&str, &str) = ("CHROMIUM", "/usr/bin/chromium");
/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// One browser at a time: two Chromiums on a shared two-core machine make
/// every timing in the tests slower than it needs to be.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn program((variable, default): (&str, &str)) -> PathBuf {
    let path = PathBuf::from(std::env::var(variable).unwrap_or_else(|_| default.into()));
    assert!(
        path.exists(),
        "the browser tests need Chromium and ChromeDriver: {} is missing. Install them with \
         `apt-get install chromium chromium-driver` (Debian), or set {} to its path",
        path.display(),
        variable,
    );
    path
}

/// A chromedriver process of this test's own, ended when dropped.
struct Driver {
    process: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let process = Command::new(program(CHROMEDRIVER))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver { process, url: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while reqwest::get(format!("{}/status", driver.url)).await.is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not answer on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }
}

/// Chromium as the machine allows it: headless, as root without a sandbox,
/// none of its own background traffic, a profile of its own, and every
/// host name but the server's unresolvable; downloads go to `downloads`
/// without a prompt.
fn capabilities(profile: &std::path::Path, downloads: &std::path::Path) -> fantoccini::wd::Capabilities {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,900",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ]
    .map(String::from)
    .into_iter()
    .chain([format!("--user-data-dir={}", profile.display())]);
    let prefs = json!({ "download.default_directory": downloads, "download.prompt_for_download": false });
    let options = json!({ "binary": program(CHROMIUM), "args": args.collect::<Vec<_>>(), "prefs": prefs });
    match json!({ "browserName": "chrome", "goog:chromeOptions": options }) {
        Value::Object(capabilities) => capabilities,
        _ => unreachable!("a JSON object"),
    }
}

/// Runs `test` with a fresh browser, then closes the browser and its
/// driver whether the test passed or not.
pub async fn with_browser<F, T>(test: F)
where
    F: FnOnce(Client) -> T,
    T: Future<Output = ()>,
{
    with_browser_and_downloads(|client, _| test(client)).await;
}

/// As `with_browser`, the test also given the folder the browser saves
/// downloads in.
pub async fn with_browser_and_downloads<F, T>(test: F)
where
    F: FnOnce(Client, PathBuf) -> T,
    T: Future<Output = ()>,
{
    let _turn = ONE_AT_A_TIME.lock().await;
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().expect("a profile directory");
    let downloads = profile.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("a downloads directory");
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities(profile.path(), &downloads))
        .connect(&driver.url)
        .await
        .expect("a Chromium session");
    let outcome = AssertUnwindSafe(test(client.clone(), downloads)).catch_unwind().await;
    let _ = client.close().await;
    drop(driver);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Evaluates `script` (a function body that `return`s) until it returns
/// something other than null, false or an empty string, and returns that.
pub async fn wait_for(browser: &Client, what: &str, script: &str) -> Value {
    let started = Instant::now();
    loop {
        match browser.execute(script, vec![]).await.expect("run a script in the page") {
            Value::Null | Value::Bool(false) => {}
            Value::String(text) if text.is_empty() => {}
            value => return value,
        }
        if started.elapsed() > PATIENCE {
            let name = what.replace(' ', "-");
            screenshot(browser, &format!("timeout-{name}")).await;
            panic!("the page did not show {what} within {PATIENCE:?} (see target/screenshots/timeout-{name}.png)");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Saves the page as `target/screenshots/{name}.png`, for a person to look at.
pub async fn screenshot(browser: &Client, name: &str) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from);
    let directory = target.join("screenshots");
    std::fs::create_dir_all(&directory).expect("create target/screenshots");
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::write(directory.join(format!("{name}.png")), png).expect("write the screenshot");
}

/// Every resource the page loaded from anywhere but `origin` (the
/// Performance API lists each fetch, script, style, image and font).
pub async fn requests_elsewhere(browser: &Client, origin: &str) -> Vec<String> {
    let names = browser
        .execute("return performance.getEntriesByType('resource').map((entry) => entry.name);", vec![])
        .await
        .expect("the page's resource entries");
    let names: Vec<String> = serde_json::from_value(names).expect("a list of addresses");
    names.into_iter().filter(|name| !name.starts_with(&format!("{origin}/"))).collect()
}
