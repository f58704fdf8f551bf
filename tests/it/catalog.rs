//! The public catalog and `quote`, without a token.
use serde_json::{Value, json};

use crate::support::{TestApp, graphql_error_code};

const QUOTE: &str = "query($input: GenerationInput!) { quote(input: $input) {
    credits creditsPerOutput allowed reason available } }";

async fn quote(app: &TestApp, input: Value) -> Value {
    app.data(None, QUOTE, json!({ "input": input })).await["quote"].clone()
}

#[tokio::test]
async fn anyone_reads_plans_studios_models_and_packs() {
    let app = TestApp::start().await;
    let data = app
        .data(
            None,
            "{ plans { code priceCents monthlyCredits proAccess canBuyTokens }
               studios { kind name tools { code unit requiresModel prices { modelId millicreditsPerUnit } }
                         models { id pro tools } options { name defaultValue values { value multiplier } } }
               tokenPacks { id tokens priceCents } }",
            json!({}),
        )
        .await;
    let plans = data["plans"].as_array().unwrap();
    assert_eq!(plans[0]["code"], "FREE");
    assert_eq!(plans[0]["monthlyCredits"], 0);
    assert_eq!(plans[0]["proAccess"], false);
    let paid: Vec<&Value> = plans.iter().filter(|p| p["code"] != "FREE").collect();
    assert!(paid.len() >= 3);
    assert!(paid.iter().all(|p| p["proAccess"] == true && p["monthlyCredits"].as_i64().unwrap() > 0));

    let studios = data["studios"].as_array().unwrap();
    let kinds: Vec<&str> = studios.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["IMAGE", "VIDEO", "SKETCH", "MUSIC", "VOICE"]);
    for studio in studios {
        assert!(studio["tools"].as_array().unwrap().len() >= 3, "{studio}");
        let models = studio["models"].as_array().unwrap();
        assert!(models.len() >= 2, "{studio}");
        assert!(models.iter().any(|m| m["pro"] == true) && models.iter().any(|m| m["pro"] == false));
        for tool in studio["tools"].as_array().unwrap() {
            assert!(!tool["prices"].as_array().unwrap().is_empty(), "{tool}");
        }
    }
    let units: Vec<&str> =
        studios.iter().flat_map(|s| s["tools"].as_array().unwrap()).map(|t| t["unit"].as_str().unwrap()).collect();
    for unit in ["OUTPUT", "SECOND", "THOUSAND_CHARACTERS"] {
        assert!(units.contains(&unit), "no tool priced per {unit}");
    }
    let sdxl = &studios[0]["models"].as_array().unwrap().iter().find(|m| m["id"] == "sdxl").unwrap()["tools"];
    assert_eq!(sdxl, &json!(["text-to-image", "image-to-image"]));
    assert!(data["tokenPacks"].as_array().unwrap().len() >= 3);
}

#[tokio::test]
async fn models_filter_by_studio_and_pro() {
    let app = TestApp::start().await;
    let data = app.data(None, "{ models(studio: VIDEO, pro: true) { id studio pro } }", json!({})).await;
    let models = data["models"].as_array().unwrap();
    assert_eq!(models.iter().map(|m| m["id"].as_str().unwrap()).collect::<Vec<_>>(), ["veo-3", "sora-2"]);
    let all = app.data(None, "{ models { id } }", json!({})).await;
    let standard = app.data(None, "{ models(pro: false) { id } }", json!({})).await;
    let pro = app.data(None, "{ models(pro: true) { id } }", json!({})).await;
    assert_eq!(
        all["models"].as_array().unwrap().len(),
        standard["models"].as_array().unwrap().len() + pro["models"].as_array().unwrap().len()
    );
}

#[tokio::test]
async fn quote_prices_per_output_per_second_and_per_thousand_characters() {
    let app = TestApp::start().await;
    // Per output: sdxl is 3 credits, times 4 outputs.
    let q = quote(&app, json!({ "tool": "text-to-image", "modelId": "sdxl", "count": 4 })).await;
    assert_eq!((q["credits"].clone(), q["creditsPerOutput"].clone()), (json!(12), json!(3)));
    // Multipliers: 2048 (x2) and high quality (x1.5): 3 * 3 = 9 per output.
    let options = json!([{ "name": "resolution", "value": "2048" }, { "name": "quality", "value": "high" }]);
    let q = quote(&app, json!({ "tool": "text-to-image", "modelId": "sdxl", "count": 2, "options": options })).await;
    assert_eq!(q["credits"], 18);
    // Rounding up: flux-schnell 2 credits at 512 (x0.5) and high (x1.5) = 1.5 -> 2 per output.
    let options = json!([{ "name": "resolution", "value": "512" }, { "name": "quality", "value": "high" }]);
    let q = quote(&app, json!({ "tool": "text-to-image", "modelId": "flux-schnell", "count": 3, "options": options }))
        .await;
    assert_eq!((q["creditsPerOutput"].clone(), q["credits"].clone()), (json!(2), json!(6)));
    // Per second: wan-2 at 2/s for 5 s at 1080p (x1.5) = 15.
    let options = json!([{ "name": "resolution", "value": "1080p" }]);
    let q =
        quote(&app, json!({ "tool": "text-to-video", "modelId": "wan-2", "durationSeconds": 5, "options": options }))
            .await;
    assert_eq!(q["credits"], 15);
    // Half a credit per second, rounded up: 7 s of video upscale = 3.5 -> 4.
    let q = quote(&app, json!({ "tool": "video-upscale", "durationSeconds": 7 })).await;
    assert_eq!(q["credits"], 4);
    // Per thousand characters: 3 credits per 1000, 1500 characters = 4.5 -> 5, times 2 outputs.
    let q = quote(&app, json!({ "tool": "text-to-speech", "modelId": "standard-tts", "characters": 1500, "count": 2 }))
        .await;
    assert_eq!((q["creditsPerOutput"].clone(), q["credits"].clone()), (json!(5), json!(10)));
    // Exactly 1000 characters is exactly one unit.
    let q = quote(&app, json!({ "tool": "text-to-speech", "modelId": "standard-tts", "characters": 1000 })).await;
    assert_eq!(q["credits"], 3);
}

#[tokio::test]
async fn anonymous_quote_is_answered_as_a_new_free_account() {
    let app = TestApp::start().await;
    let q = quote(&app, json!({ "tool": "text-to-image", "modelId": "sdxl", "count": 2 })).await;
    assert_eq!(q, json!({ "credits": 6, "creditsPerOutput": 3, "allowed": true, "reason": null, "available": 50 }));
    let q = quote(&app, json!({ "tool": "text-to-image", "modelId": "sdxl", "count": 17 })).await;
    assert_eq!((q["allowed"].clone(), q["reason"].clone()), (json!(false), json!("INSUFFICIENT_CREDITS")));
    let q = quote(&app, json!({ "tool": "text-to-image", "modelId": "flux-pro" })).await;
    assert_eq!((q["allowed"].clone(), q["reason"].clone()), (json!(false), json!("PRO_MODEL_REQUIRES_SUBSCRIPTION")));
}

#[tokio::test]
async fn quote_refuses_bad_generations_with_their_codes() {
    let app = TestApp::start().await;
    let cases = [
        (json!({ "tool": "no-such-tool" }), "UNKNOWN_TOOL"),
        (json!({ "tool": "text-to-image", "modelId": "no-such-model" }), "UNKNOWN_MODEL"),
        (json!({ "tool": "image-to-video", "modelId": "sora-2", "durationSeconds": 5 }), "UNKNOWN_MODEL"),
        (json!({ "tool": "text-to-image" }), "INVALID_INPUT"),
        (json!({ "tool": "upscale", "modelId": "sdxl" }), "INVALID_INPUT"),
        (json!({ "tool": "text-to-image", "modelId": "sdxl", "count": 0 }), "INVALID_INPUT"),
        (json!({ "tool": "text-to-image", "modelId": "sdxl", "count": -3 }), "INVALID_INPUT"),
        (json!({ "tool": "text-to-image", "modelId": "sdxl", "count": 101 }), "INVALID_INPUT"),
        (json!({ "tool": "text-to-video", "modelId": "wan-2" }), "INVALID_INPUT"),
        (json!({ "tool": "text-to-video", "modelId": "wan-2", "durationSeconds": 0 }), "INVALID_INPUT"),
        (json!({ "tool": "text-to-image", "modelId": "sdxl", "durationSeconds": 4 }), "INVALID_INPUT"),
        (json!({ "tool": "text-to-speech", "modelId": "standard-tts", "characters": 2000000 }), "INVALID_INPUT"),
        (
            json!({ "tool": "text-to-image", "modelId": "sdxl", "options": [{ "name": "resolution", "value": "9000" }] }),
            "INVALID_INPUT",
        ),
        (
            json!({ "tool": "text-to-image", "modelId": "sdxl", "options": [{ "name": "fps", "value": "60" }] }),
            "INVALID_INPUT",
        ),
        (
            json!({ "tool": "text-to-image", "modelId": "sdxl",
                    "options": [{ "name": "quality", "value": "high" }, { "name": "quality", "value": "standard" }] }),
            "INVALID_INPUT",
        ),
    ];
    for (input, code) in cases {
        let response = app.graphql(None, QUOTE, json!({ "input": input })).await;
        assert_eq!(graphql_error_code(&response), json!(code), "{input}: {response}");
    }
}
