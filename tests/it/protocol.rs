//! GraphQL over HTTP and graphql-transport-ws, as their specifications say.
//! (CI also runs the `graphql-http` package's audits against the binary.)
use chrono::Duration;
use credits::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::live::{open, receive, send};
use crate::support::{TestApp, image, start_time};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn post(
    app: &TestApp,
    accept: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, String, Value) {
    let mut request = reqwest::Client::new().post(format!("{}/graphql", app.base_url)).body(body.to_owned());
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let media = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, media, body)
}

#[tokio::test]
async fn the_response_media_type_follows_accept() {
    let app = TestApp::start().await;
    let query = r#"{"query":"{ __typename }"}"#;
    let (status, media, body) = post(&app, Some(GRAPHQL_RESPONSE), Some("application/json"), query).await;
    assert_eq!((status, media.starts_with(GRAPHQL_RESPONSE)), (StatusCode::OK, true));
    assert_eq!(body, json!({ "data": { "__typename": "Query" } }));
    for accept in [Some("application/json"), Some("*/*"), None] {
        let (status, media, _) = post(&app, accept, Some("application/json; charset=utf-8"), query).await;
        assert_eq!((status, media.starts_with("application/json")), (StatusCode::OK, true), "{accept:?}");
    }
}

#[tokio::test]
async fn a_request_that_is_no_graphql_over_http_request_is_400_whatever_the_accept_header() {
    let app = TestApp::start().await;
    let not_requests = [
        r#"{ "not a JSON"#,
        "NONSENSE",
        r#"{"query":"#,
        "",
        r#"{"qeury":"{ __typename }"}"#,
        r#"{"query":0}"#,
        r#"{"query":"{ __typename }","variables":[7]}"#,
        r#"{"query":"{ __typename }","operationName":false}"#,
    ];
    for body in not_requests {
        for accept in [Some(GRAPHQL_RESPONSE), Some("application/json"), Some("*/*"), None] {
            let (status, media, response) = post(&app, accept, Some("application/json"), body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body} accepting {accept:?}");
            assert!(response.get("data").is_none(), "{body}: {response}");
            assert_eq!(response["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body}: {response}");
            let expected = if accept == Some(GRAPHQL_RESPONSE) { GRAPHQL_RESPONSE } else { "application/json" };
            assert!(media.starts_with(expected), "{body} accepting {accept:?}: {media}");
        }
    }
    // A GET without a query is no request either.
    let url = format!("{}/graphql", app.base_url);
    let response = reqwest::Client::new().get(&url).header("accept", "application/json").query(&[("variables", "{}")]);
    assert_eq!(response.send().await.unwrap().status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn request_errors_are_400_without_data_for_graphql_response_json_and_200_for_json() {
    let app = TestApp::start().await;
    let request_errors = [
        r#"{"query":"{"}"#,
        r#"{"query":"{ nope }"}"#,
        r#"{"query":"query($n: Int!) { __typename }","variables":{"n":"one"}}"#,
    ];
    for body in request_errors {
        let (status, _, response) = post(&app, Some(GRAPHQL_RESPONSE), Some("application/json"), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(response.get("data").is_none() && response["errors"].is_array(), "{body}: {response}");
        // The legacy media type answers a well-formed request 200, with the errors.
        let (status, _, response) = post(&app, Some("application/json"), Some("application/json"), body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(response.get("data").is_none() && response["errors"].is_array(), "{body}: {response}");
    }
}

#[tokio::test]
async fn a_post_that_is_not_json_is_415() {
    let app = TestApp::start().await;
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let (status, _, _) = post(&app, None, content_type, "query={__typename}").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
    }
}

#[tokio::test]
async fn get_runs_queries_but_not_mutations() {
    let app = TestApp::start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", app.base_url);
    let query = [
        ("query", "query Q($tool: String!) { quote(input: { tool: $tool }) { credits } }"),
        ("variables", r#"{"tool":"upscale"}"#),
    ];
    let response = client.get(&url).query(&query).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "data": { "quote": { "credits": 2 } } }));

    let token = app.token(Role::Service, "s");
    let mutation = [(
        "query",
        "mutation { consumeCredits(input: { accountId: \"g\", idempotencyKey: \"k\", generation: { tool: \"upscale\" } }) { errors { code } } }",
    )];
    let response = client.get(&url).bearer_auth(&token).query(&mutation).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.balance("g").await, 50, "nothing was charged");

    let page = client.get(&url).header("accept", "text/html,application/xhtml+xml").send().await.unwrap();
    assert!(page.text().await.unwrap().to_lowercase().contains("graphiql"));
}

#[tokio::test]
async fn batches_are_bounded() {
    let app = TestApp::start().await;
    let one = json!({ "query": "{ __typename }" });
    let (status, _, body) = post(&app, None, Some("application/json"), &json!([one, one]).to_string()).await;
    assert_eq!((status, body.as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
    let eleven = Value::Array(vec![one; 11]).to_string();
    let (status, _, body) = post(&app, Some(GRAPHQL_RESPONSE), Some("application/json"), &eleven).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

async fn closed_with(app: &TestApp, messages: &[Value]) -> Option<Value> {
    let mut socket = open(&app.base_url, Some("graphql-transport-ws")).await;
    for message in messages {
        send(&mut socket, message.clone()).await;
    }
    loop {
        let message = receive(&mut socket).await?;
        if message.get("closed").is_some() {
            return Some(message["closed"].clone());
        }
    }
}

#[tokio::test]
async fn websocket_close_codes_follow_graphql_transport_ws() {
    let app = TestApp::start().await;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", app.token(Role::User, "u")) } });
    let subscribe = |id: &str| json!({ "id": id, "type": "subscribe", "payload": { "query": "subscription { walletUpdated { balance } }" } });
    assert_eq!(closed_with(&app, &[json!({ "type": "nonsense" })]).await, Some(json!(4400)));
    assert_eq!(closed_with(&app, &[subscribe("1")]).await, Some(json!(4401)));
    let bad_init = json!({ "type": "connection_init", "payload": { "Authorization": "Bearer forged" } });
    assert_eq!(closed_with(&app, &[bad_init]).await, Some(json!(4403)));
    assert_eq!(closed_with(&app, &[init.clone(), subscribe("1"), subscribe("1")]).await, Some(json!(4409)));
    assert_eq!(closed_with(&app, &[init.clone(), init.clone()]).await, Some(json!(4429)));
    let mut wrong_protocol = open(&app.base_url, None).await;
    assert_eq!(receive(&mut wrong_protocol).await, Some(json!({ "closed": 4406 })));
}

#[tokio::test]
async fn a_websocket_without_connection_init_is_closed_with_4408() {
    let app = TestApp::start().await;
    let mut socket = open(&app.base_url, Some("graphql-transport-ws")).await;
    // Paused time jumps ahead once the server waits on nothing but the timeout.
    tokio::time::pause();
    assert_eq!(receive(&mut socket).await, Some(json!({ "closed": 4408 })));
}

#[tokio::test]
async fn queries_and_pings_work_over_the_websocket() {
    let app = TestApp::start().await;
    let mut socket = open(&app.base_url, Some("graphql-transport-ws")).await;
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(receive(&mut socket).await.unwrap()["type"], "connection_ack");
    send(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(receive(&mut socket).await.unwrap()["type"], "pong");
    send(&mut socket, json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ plans { code } }" } })).await;
    let next = receive(&mut socket).await.unwrap();
    assert_eq!(
        (next["type"].clone(), next["payload"]["data"]["plans"][0]["code"].clone()),
        (json!("next"), json!("FREE"))
    );
    assert_eq!(receive(&mut socket).await.unwrap(), json!({ "id": "q", "type": "complete" }));
    send(&mut socket, json!({ "id": "v", "type": "subscribe", "payload": { "query": "{ nope }" } })).await;
    let error = receive(&mut socket).await.unwrap();
    assert_eq!((error["type"].clone(), error["id"].clone()), (json!("error"), json!("v")));
}

#[tokio::test]
async fn a_usage_summary_reads_the_same_alone_batched_over_the_websocket_and_under_a_repeated_key() {
    // Summaries leave as JSON text written ahead (`graphql::json`): every
    // way out of the server must put that text in as it is.
    let app = TestApp::start().await;
    app.consume("ana", image(2), "a").await;
    app.consume("ana", image(1), "b").await;
    app.advance(Duration::days(1));
    app.consume("ana", image(1), "c").await;
    let token = app.token(Role::User, "ana");
    let fields = "periodStart studio tool model { id name pro } generations outputs credits";
    let query = format!("{{ viewer {{ usageSummary(groupBy: [DAY, MODEL]) {{ {fields} }} }} }}");
    let alone = app.data(Some(&token), &query, json!({})).await;
    let day = |d: i64| (start_time() + Duration::days(d)).format("%Y-%m-%dT00:00:00+00:00").to_string();
    let bucket = |d: i64, generations: i64, outputs: i64| {
        json!({ "periodStart": day(d), "studio": null, "tool": null, "generations": generations,
                "outputs": outputs, "credits": 3 * outputs, "model": { "id": "sdxl", "name": "Stable Diffusion XL", "pro": false } })
    };
    assert_eq!(alone["viewer"]["usageSummary"], json!([bucket(0, 2, 3), bucket(1, 1, 1)]));

    let request = json!({ "query": query });
    let url = format!("{}/graphql", app.base_url);
    let batch = reqwest::Client::new().post(&url).bearer_auth(&token).json(&json!([request, request])).send().await;
    let batch: Value = batch.unwrap().json().await.unwrap();
    assert_eq!(batch, json!([{ "data": alone }, { "data": alone }]));

    let mut socket = open(&app.base_url, Some("graphql-transport-ws")).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
        .await;
    assert_eq!(receive(&mut socket).await.unwrap()["type"], "connection_ack");
    send(&mut socket, json!({ "id": "s", "type": "subscribe", "payload": request })).await;
    assert_eq!(receive(&mut socket).await.unwrap(), json!({ "id": "s", "type": "next", "payload": { "data": alone } }));

    // The executor merges the two selections of one key bucket by bucket.
    let repeated = format!(
        "{{ viewer {{ usageSummary(groupBy: [DAY, MODEL]) {{ credits periodStart }}
           ... on Account {{ usageSummary(groupBy: [DAY, MODEL]) {{ {fields} }} }} }} }}"
    );
    assert_eq!(app.data(Some(&token), &repeated, json!({})).await, alone);
}
