//! Who may do what (DESIGN.md, section 2).
use credits::auth::Role;
use serde_json::json;

use crate::support::{SECRET, TestApp, graphql_error_code, image};

#[tokio::test]
async fn a_user_reads_their_own_account_created_on_first_sight() {
    let app = TestApp::start().await;
    let token = app.token(Role::User, "alice");
    let data = app.data(Some(&token), "{ viewer { id plan { code } wallet { balance dailyFree } } }", json!({})).await;
    assert_eq!(
        data["viewer"],
        json!({ "id": "alice", "plan": { "code": "FREE" }, "wallet": { "balance": 50, "dailyFree": 50 } })
    );
}

#[tokio::test]
async fn a_user_may_not_read_another_account() {
    let app = TestApp::start().await;
    let token = app.token(Role::User, "alice");
    let response = app.graphql(Some(&token), "{ account(id: \"bob\") { id } }", json!({})).await;
    assert_eq!(graphql_error_code(&response), json!("FORBIDDEN"));
    let response = app.graphql(Some(&token), "{ account(id: \"alice\") { id } }", json!({})).await;
    assert_eq!(graphql_error_code(&response), json!("FORBIDDEN"), "account(id) is for service and admin");
}

#[tokio::test]
async fn viewer_needs_a_token() {
    let app = TestApp::start().await;
    let response = app.graphql(None, "{ viewer { id } }", json!({})).await;
    assert_eq!(graphql_error_code(&response), json!("UNAUTHENTICATED"));
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    let app = TestApp::start().await;
    let foreign = credits::auth::Auth::new("another-secret").issue(Role::Admin, "mallory", None).unwrap();
    let expired = {
        let claims = credits::auth::Claims { sub: "alice".into(), role: Role::User, exp: Some(1_000), iat: None };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    for token in [foreign.as_str(), expired.as_str(), "not-a-jwt", ""] {
        let response = app.graphql(Some(token), "{ viewer { id } }", json!({})).await;
        assert_eq!(graphql_error_code(&response), json!("UNAUTHENTICATED"), "token {token:?}: {response}");
    }
    // A bad token is refused even where no token is needed, rather than ignored.
    let response =
        app.graphql(Some("not-a-jwt"), "{ quote(input: { tool: \"upscale\" }) { credits } }", json!({})).await;
    assert_eq!(graphql_error_code(&response), json!("UNAUTHENTICATED"));
}

#[tokio::test]
async fn money_mutations_are_for_backends_and_grants_for_admins() {
    let app = TestApp::start().await;
    let user = app.token(Role::User, "alice");
    let service = app.token(Role::Service, "payments");
    let consume = "mutation($g: GenerationInput!) { consumeCredits(input: { accountId: \"alice\", generation: $g,
        idempotencyKey: \"k\" }) { errors { code } } }";
    let response = app.graphql(Some(&user), consume, json!({ "g": image(1) })).await;
    assert_eq!(graphql_error_code(&response), json!("FORBIDDEN"));
    let response = app.graphql(None, consume, json!({ "g": image(1) })).await;
    assert_eq!(graphql_error_code(&response), json!("UNAUTHENTICATED"));
    let grant = "mutation { grantCredits(input: { accountId: \"alice\", credits: 100, reason: \"gift\",
        idempotencyKey: \"g\" }) { errors { code } } }";
    for token in [&user, &service] {
        let response = app.graphql(Some(token), grant, json!({})).await;
        assert_eq!(graphql_error_code(&response), json!("FORBIDDEN"));
    }
    let check = app.graphql(Some(&service), "{ ledgerCheck { clean } }", json!({})).await;
    assert_eq!(graphql_error_code(&check), json!("FORBIDDEN"));
    // Nothing was charged or granted by the refused calls.
    assert_eq!(app.balance("alice").await, 50);
}

#[tokio::test]
async fn healthz_checks_the_database() {
    let app = TestApp::start().await;
    let response = reqwest::get(format!("{}/healthz", app.base_url)).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn graphiql_is_served_at_the_root() {
    let app = TestApp::start().await;
    let body = reqwest::get(format!("{}/", app.base_url)).await.unwrap().text().await.unwrap();
    assert!(body.to_lowercase().contains("graphiql"));
}
