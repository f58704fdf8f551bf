//! Retired entries: no longer offered or chargeable, still in history.
use chrono::Duration;
use serde_json::json;

use super::{EVENT, change, charge, fund, quote};
use crate::support::{TestApp, error_code, graphql_error_code, image};

#[tokio::test]
async fn a_retired_model_or_tool_is_refused_and_stays_in_history() {
    let app = TestApp::start().await;
    fund(&app, "alice", 100).await;
    assert_eq!(charge(&app, "alice", image(2), "before").await["errors"], json!([]));

    assert_eq!(change(&app, "retire", json!({ "kind": "MODEL", "id": "sdxl" })).await["catalogVersion"], 2);
    let quoted = quote(&app, image(1)).await;
    assert_eq!(graphql_error_code(&quoted), "UNKNOWN_MODEL");
    assert!(quoted["errors"][0]["message"].as_str().unwrap().contains("retired"), "{quoted:#}");
    let refused = charge(&app, "alice", image(1), "after").await;
    assert_eq!(error_code(&refused), "UNKNOWN_MODEL");
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("retired"), "{refused:#}");
    let held = app.reserve("alice", image(1), "hold-after", None).await;
    assert_eq!(error_code(&held), "UNKNOWN_MODEL");

    let catalog = app
        .data(None, "{ models(studio: IMAGE) { id } studios { kind tools { code prices { modelId } } } }", json!({}))
        .await;
    assert!(!catalog["models"].as_array().unwrap().iter().any(|m| m["id"] == "sdxl"));
    let image_tools = catalog["studios"][0]["tools"].as_array().unwrap();
    assert!(image_tools.iter().flat_map(|t| t["prices"].as_array().unwrap()).all(|p| p["modelId"] != "sdxl"));

    // History still names it: usage, summaries.
    let query = format!(
        "query($id: ID!) {{ account(id: $id) {{ usage(first: 10) {{ edges {{ node {{ {EVENT} }} }} }}
            usageSummary(groupBy: [MODEL]) {{ model {{ id name }} credits }} }} }}"
    );
    let account = app.as_service(&query, json!({ "id": "alice" })).await["account"].clone();
    let event = &account["usage"]["edges"][0]["node"];
    assert_eq!(event["model"], json!({ "id": "sdxl", "name": "Stable Diffusion XL" }));
    assert_eq!((event["credits"].clone(), event["unitPrice"].clone()), (json!(6), json!(3000)));
    assert_eq!(
        account["usageSummary"],
        json!([{ "model": { "id": "sdxl", "name": "Stable Diffusion XL" }, "credits": 6 }])
    );

    // A tool.
    change(&app, "retire", json!({ "kind": "TOOL", "id": "upscale" })).await;
    let quoted = quote(&app, json!({ "tool": "upscale" })).await;
    assert_eq!(graphql_error_code(&quoted), "UNKNOWN_TOOL");
    assert!(quoted["errors"][0]["message"].as_str().unwrap().contains("retired"), "{quoted:#}");
    assert_eq!(error_code(&charge(&app, "alice", json!({ "tool": "upscale" }), "upscale").await), "UNKNOWN_TOOL");
    let tools = app.data(None, "{ studios { tools { code } } }", json!({})).await;
    assert!(!tools.to_string().contains("\"upscale\""));

    // Offered again by an upsert.
    let back =
        json!({ "code": "upscale", "name": "Upscale", "studio": "IMAGE", "unit": "OUTPUT", "requiresModel": false });
    assert_eq!(change(&app, "upsertTool", back).await["errors"], json!([]));
    assert_eq!(charge(&app, "alice", json!({ "tool": "upscale" }), "upscale-2").await["usageEvent"]["credits"], 2);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn a_retired_plan_takes_no_new_subscriptions_and_renews_the_ones_it_has() {
    let app = TestApp::start().await;
    assert_eq!(app.subscribe("alice", "STARTER", "pay-1").await["errors"], json!([]));
    change(&app, "retire", json!({ "kind": "PLAN", "id": "STARTER" })).await;
    let plans = app.data(None, "{ plans { code } }", json!({})).await;
    assert!(!plans["plans"].as_array().unwrap().iter().any(|p| p["code"] == "STARTER"));
    let refused = app.subscribe("bob", "STARTER", "pay-2").await;
    assert_eq!(error_code(&refused), "UNKNOWN_PLAN");
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("retired"), "{refused:#}");

    app.advance(Duration::days(32));
    let wallet = app.wallet("alice").await;
    assert_eq!(wallet["subscriptionAllowance"], 1000, "renewed on the retired plan: {wallet:#}");
    let grants = app.ledger("alice").await.iter().filter(|e| e["kind"] == "SUBSCRIPTION_GRANT").count();
    assert_eq!(grants, 2);
    assert_eq!(app.cancel("alice", false).await["errors"], json!([]));

    change(&app, "retire", json!({ "kind": "TOKEN_PACK", "id": "tokens-500" })).await;
    app.subscribe("carol", "CREATOR", "pay-3").await;
    assert_eq!(error_code(&app.purchase("carol", "tokens-500", "pay-4", "buy-1").await), "UNKNOWN_PACK");
    let packs = app.data(None, "{ tokenPacks { id } }", json!({})).await;
    assert!(!packs["tokenPacks"].as_array().unwrap().iter().any(|p| p["id"] == "tokens-500"));
    app.assert_ledger_clean().await;
}
