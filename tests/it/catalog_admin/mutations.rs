//! Each mutation, its audit entry, its validation and who may make it.
use credits::auth::Role;
use serde_json::{Value, json};

use super::{catalog_version, change, change_as, changes, quoted_credits};
use crate::support::{TestApp, graphql_error_code};

fn new_tool() -> Value {
    json!({ "code": "image-inpaint", "name": "Inpaint", "studio": "IMAGE", "unit": "OUTPUT", "requiresModel": true })
}

fn new_model() -> Value {
    json!({ "id": "flux-dev", "name": "FLUX.1 Dev", "studio": "IMAGE", "pro": false, "tools": ["image-inpaint", "text-to-image"] })
}

#[tokio::test]
async fn each_mutation_makes_one_audited_version() {
    let app = TestApp::start().await;
    let steps = [
        ("upsertTool", new_tool()),
        ("upsertModel", new_model()),
        ("setPrice", json!({ "tool": "image-inpaint", "modelId": "flux-dev", "millicreditsPerUnit": 2500 })),
        (
            "upsertOptionMultiplier",
            json!({ "studio": "IMAGE", "name": "quality", "value": "ultra", "multiplierPermille": 2000 }),
        ),
        (
            "upsertPlan",
            json!({ "code": "PRO_MAX", "name": "Pro Max", "priceCents": 20000, "monthlyCredits": 30000, "proAccess": true, "canBuyTokens": true }),
        ),
        ("upsertTokenPack", json!({ "id": "tokens-20000", "tokens": 20000, "priceCents": 15000 })),
    ];
    for (i, (name, input)) in steps.iter().enumerate() {
        let payload = change(&app, name, input.clone()).await;
        assert_eq!(payload, json!({ "catalogVersion": i as i64 + 2, "errors": [] }), "{name}");
    }
    assert_eq!(catalog_version(&app).await, 7);

    // The new entries are offered and priced: 2.5 credits x2 (ultra), rounded up.
    let generation =
        json!({ "tool": "image-inpaint", "modelId": "flux-dev", "options": [{ "name": "quality", "value": "ultra" }] });
    assert_eq!(quoted_credits(&app, generation).await, 5);
    let data =
        app.data(None, "{ plans { code } tokenPacks { id } models(studio: IMAGE) { id tools } }", json!({})).await;
    assert!(data["plans"].as_array().unwrap().iter().any(|p| p["code"] == "PRO_MAX"));
    assert!(data["tokenPacks"].as_array().unwrap().iter().any(|p| p["id"] == "tokens-20000"));
    let dev = data["models"].as_array().unwrap().iter().find(|m| m["id"] == "flux-dev").cloned().unwrap();
    assert_eq!(dev["tools"], json!(["image-inpaint", "text-to-image"]));
    // Running with text-to-image, but not priced for it yet.
    let unpriced = app
        .graphql(None, "{ quote(input: { tool: \"text-to-image\", modelId: \"flux-dev\" }) { credits } }", json!({}))
        .await;
    assert_eq!(graphql_error_code(&unpriced), "UNKNOWN_MODEL", "{unpriced:#}");

    // The audit: one entry each, newest first, who, what, before and after.
    let audit = changes(&app).await;
    let names: Vec<&str> = audit.iter().map(|c| c["change"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["upsertTokenPack", "upsertPlan", "upsertOptionMultiplier", "setPrice", "upsertModel", "upsertTool", "seed"]
    );
    assert!(audit[..6].iter().all(|c| c["actor"] == "ops-alice"));
    assert_eq!(audit[6]["actor"], "seed");
    let price = &audit[3];
    assert_eq!(price["version"], 4);
    assert_eq!(price["before"]["tool:image-inpaint"]["requires_model"], true);
    assert_eq!(price["after"]["tool:image-inpaint"]["models"], json!({ "flux-dev": 2.5 }));
    assert_eq!(audit[5]["before"], json!({}), "a new tool has nothing before");
    assert_eq!(audit[5]["after"]["tool:image-inpaint"]["studio"], "IMAGE");
    let option = &audit[2];
    assert_eq!(option["before"]["option:IMAGE:quality"]["values"], json!({ "standard": 1.0, "high": 1.5 }));
    assert_eq!(
        option["after"]["option:IMAGE:quality"]["values"],
        json!({ "standard": 1.0, "high": 1.5, "ultra": 2.0 })
    );

    // Any version reads back.
    let query = "query($v: Int) { catalog(version: $v) { version toml tools { code } plans { code } } }";
    let first = app.as_admin(query, json!({ "v": 1 })).await["catalog"].clone();
    assert_eq!(first["version"], 1);
    assert!(!first["tools"].as_array().unwrap().iter().any(|t| t["code"] == "image-inpaint"));
    let seed: migration::seed::Seed = toml::from_str(migration::seed::CATALOG_TOML).unwrap();
    assert_eq!(toml::from_str::<migration::seed::Seed>(first["toml"].as_str().unwrap()).unwrap(), seed);
    let latest = app.as_admin(query, json!({ "v": null })).await["catalog"].clone();
    assert_eq!(latest["version"], 7);
    assert!(latest["toml"].as_str().unwrap().contains("image-inpaint"));
    assert_eq!(app.as_admin(query, json!({ "v": 99 })).await["catalog"], json!(null));

    // The same change again changes nothing and makes no version.
    let again = change(&app, "upsertTokenPack", steps[5].1.clone()).await;
    assert_eq!(again, json!({ "catalogVersion": 7, "errors": [] }));
    assert_eq!(changes(&app).await.len(), 7);
}

#[tokio::test]
async fn bad_changes_are_invalid_input_on_their_field_and_change_nothing() {
    let app = TestApp::start().await;
    let price = |tool: &str, model: Option<&str>, millicredits: i64| json!({ "tool": tool, "modelId": model, "millicreditsPerUnit": millicredits });
    let cases = [
        ("setPrice", price("text-to-image", Some("sdxl"), 0), "millicreditsPerUnit"),
        ("setPrice", price("text-to-image", Some("sdxl"), -3000), "millicreditsPerUnit"),
        ("setPrice", price("text-to-nothing", Some("sdxl"), 1000), "tool"),
        ("setPrice", price("text-to-image", Some("no-such-model"), 1000), "modelId"),
        ("setPrice", price("text-to-image", Some("wan-2"), 1000), "modelId"),
        ("setPrice", price("text-to-image", None, 1000), "modelId"),
        ("setPrice", price("upscale", Some("sdxl"), 1000), "modelId"),
        (
            "upsertModel",
            json!({ "id": "m", "name": "M", "studio": "IMAGE", "pro": false, "tools": ["text-to-video"] }),
            "tools",
        ),
        (
            "upsertModel",
            json!({ "id": "m", "name": "M", "studio": "IMAGE", "pro": false, "tools": ["upscale"] }),
            "tools",
        ),
        ("upsertModel", json!({ "id": "sdxl", "name": "M", "studio": "VIDEO", "pro": false, "tools": [] }), "studio"),
        ("upsertModel", json!({ "id": "", "name": "M", "studio": "IMAGE", "pro": false, "tools": [] }), "id"),
        (
            "upsertTool",
            json!({ "code": "upscale", "name": "U", "studio": "VIDEO", "unit": "OUTPUT", "requiresModel": false }),
            "studio",
        ),
        (
            "upsertTool",
            json!({ "code": "upscale", "name": "U", "studio": "IMAGE", "unit": "OUTPUT", "requiresModel": true }),
            "requiresModel",
        ),
        (
            "upsertTool",
            json!({ "code": "x".repeat(65), "name": "U", "studio": "IMAGE", "unit": "OUTPUT", "requiresModel": true }),
            "code",
        ),
        (
            "upsertOptionMultiplier",
            json!({ "studio": "IMAGE", "name": "quality", "value": "low", "multiplierPermille": 0 }),
            "multiplierPermille",
        ),
        (
            "upsertOptionMultiplier",
            json!({ "studio": "IMAGE", "name": "quality", "value": "low", "multiplierPermille": 100001 }),
            "multiplierPermille",
        ),
        (
            "upsertPlan",
            json!({ "code": "P", "name": "P", "priceCents": -1, "monthlyCredits": 1, "proAccess": true, "canBuyTokens": true }),
            "priceCents",
        ),
        (
            "upsertPlan",
            json!({ "code": "P", "name": "P", "priceCents": 100, "monthlyCredits": -1, "proAccess": true, "canBuyTokens": true }),
            "monthlyCredits",
        ),
        (
            "upsertPlan",
            json!({ "code": "FREE", "name": "Free", "priceCents": 100, "monthlyCredits": 0, "proAccess": false, "canBuyTokens": false }),
            "priceCents",
        ),
        ("upsertTokenPack", json!({ "id": "t", "tokens": 0, "priceCents": 100 }), "tokens"),
        ("upsertTokenPack", json!({ "id": "t", "tokens": 100, "priceCents": 0 }), "priceCents"),
        ("retire", json!({ "kind": "MODEL", "id": "no-such-model" }), "id"),
        ("retire", json!({ "kind": "PLAN", "id": "FREE" }), "id"),
    ];
    for (name, input, field) in cases {
        let payload = change(&app, name, input.clone()).await;
        assert_eq!(payload["catalogVersion"], json!(null), "{name} {input}: {payload:#}");
        assert_eq!(payload["errors"][0]["code"], "INVALID_INPUT", "{name} {input}: {payload:#}");
        assert_eq!(payload["errors"][0]["field"], field, "{name} {input}: {payload:#}");
    }
    assert_eq!(catalog_version(&app).await, 1, "nothing changed");
    assert_eq!(changes(&app).await.len(), 1);
    assert_eq!(quoted_credits(&app, crate::support::image(1)).await, 3);
}

#[tokio::test]
async fn only_admins_change_and_audit_the_catalog() {
    let app = TestApp::start().await;
    let input = json!({ "tool": "upscale", "millicreditsPerUnit": 9000 });
    for role in [Role::User, Role::Service] {
        let response = change_as(&app, role, "setPrice", input.clone()).await;
        assert_eq!(graphql_error_code(&response), "FORBIDDEN", "{role:?}: {response:#}");
        let token = app.token(role, "someone");
        let audit = app.graphql(Some(&token), "{ catalogChanges { edges { node { version } } } }", json!({})).await;
        assert_eq!(graphql_error_code(&audit), "FORBIDDEN", "{role:?}: {audit:#}");
        let version = app.graphql(Some(&token), "{ catalog(version: 1) { version } }", json!({})).await;
        assert_eq!(graphql_error_code(&version), "FORBIDDEN", "{role:?}: {version:#}");
    }
    let anonymous = app
        .graphql(None, "mutation { retire(input: { kind: TOOL, id: \"upscale\" }) { catalogVersion } }", json!({}))
        .await;
    assert_eq!(graphql_error_code(&anonymous), "UNAUTHENTICATED");
    assert_eq!(catalog_version(&app).await, 1);
    assert_eq!(change(&app, "setPrice", input).await["catalogVersion"], 2);
    assert_eq!(quoted_credits(&app, json!({ "tool": "upscale" })).await, 9);
}
