//! `schema.graphql` is printed from the code; this fails when it is stale.
use serde_json::json;

use crate::support::TestApp;

#[test]
fn schema_file_is_up_to_date() {
    let printed = credits::graphql::sdl();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &printed).expect("write schema.graphql");
    }
    // Read back also after an update, so that the comparison always runs.
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        printed == on_disk,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql` (or UPDATE_SCHEMA=1 cargo test)"
    );
}

#[tokio::test]
async fn the_root_types_are_named_as_the_contract_names_them() {
    let app = TestApp::start().await;
    let query = "{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }";
    let data = app.data(None, query, json!({})).await;
    assert_eq!(
        data["__schema"],
        json!({ "queryType": { "name": "Query" }, "mutationType": { "name": "Mutation" },
                "subscriptionType": { "name": "Subscription" } })
    );
    let sdl = credits::graphql::sdl();
    assert!(sdl.contains("\ntype Subscription {\n") && !sdl.contains("LiveSubscription"), "{sdl}");
}
