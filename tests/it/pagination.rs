//! One pagination for every connection: the same page sizes, `first`/`last`
//! rules, exact `pageInfo` and filter-bound cursors, asserted alike on the
//! usage and the ledger connections.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credits::auth::Role;
use serde_json::{Value, json};

use crate::support::{TestApp, graphql_error_code, image};

/// A connection of account `p`, and how to name a filter of it.
struct Connection {
    field: &'static str,
    filter_type: &'static str,
    /// A filter that selects some of the account's rows, and the same
    /// filter spelled another way.
    filter: Value,
    same_filter: Value,
    /// A keyset position past every row, as its cursors write it.
    past_every_row: &'static str,
    /// A position before every row.
    before_every_row: &'static str,
}

fn connections() -> [Connection; 2] {
    let usage = Connection {
        field: "usage",
        filter_type: "UsageFilter",
        filter: json!({ "tools": ["text-to-image", "upscale"] }),
        same_filter: json!({ "tools": ["upscale", "text-to-image", "upscale"] }),
        past_every_row: "9999999999999.999999999",
        before_every_row: "-9999999999999.0",
    };
    let ledger = Connection {
        field: "ledger",
        filter_type: "LedgerFilterInput",
        filter: json!({ "kinds": ["CONSUME", "PROMO_GRANT"] }),
        same_filter: json!({ "kinds": ["PROMO_GRANT", "CONSUME", "CONSUME"] }),
        past_every_row: "999999999",
        before_every_row: "0",
    };
    [usage, ledger]
}

impl Connection {
    fn query(&self) -> String {
        format!(
            "query($first: Int, $after: String, $last: Int, $before: String, $filter: {}) {{ account(id: \"p\") {{
                {}(first: $first, after: $after, last: $last, before: $before, filter: $filter) {{
                totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
                edges {{ cursor node {{ id }} }} }} }} }}",
            self.filter_type, self.field
        )
    }

    async fn response(&self, app: &TestApp, variables: Value) -> Value {
        app.graphql(Some(&app.token(Role::Service, "s")), &self.query(), variables).await
    }

    async fn page(&self, app: &TestApp, variables: Value) -> Value {
        let response = self.response(app, variables.clone()).await;
        assert_eq!(response["errors"], Value::Null, "{} {variables}: {response}", self.field);
        response["data"]["account"][self.field].clone()
    }

    /// Every id in the connection's order, read in one page.
    async fn all(&self, app: &TestApp, filter: &Value) -> Vec<String> {
        ids(&self.page(app, json!({ "first": 100, "filter": filter })).await)
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()).collect()
}

fn info(page: &Value) -> (bool, bool) {
    let info = &page["pageInfo"];
    (info["hasPreviousPage"].as_bool().unwrap(), info["hasNextPage"].as_bool().unwrap())
}

/// A cursor of the same connection and filter moved to `position`.
fn moved(cursor: &Value, position: &str) -> String {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor.as_str().unwrap()).unwrap()).unwrap();
    let (connection_and_filter, _) = text.split_once('.').unwrap();
    URL_SAFE_NO_PAD.encode(format!("{connection_and_filter}.{position}"))
}

/// 25 charges of 3 credits (a grant pays for them): 25 usage events, and
/// 27 ledger entries with the day's grant and the promo grant.
async fn history(app: &TestApp) {
    let grant = json!({ "credits": 100, "reason": "pages", "idempotencyKey": "grant-1" });
    assert_eq!(app.grant("p", grant).await["errors"], json!([]));
    for i in 0..25 {
        assert_eq!(app.consume("p", image(1), &format!("c{i}")).await["errors"], json!([]));
    }
}

#[tokio::test]
async fn every_connection_pages_20_by_default_at_most_100_and_one_way_at_a_time() {
    let app = TestApp::start().await;
    history(&app).await;
    for connection in connections() {
        let field = connection.field;
        let first = connection.page(&app, json!({})).await;
        assert_eq!(ids(&first).len(), 20, "{field}");
        assert_eq!(info(&first), (false, true), "{field}");
        let last = connection.page(&app, json!({ "last": null })).await;
        assert_eq!(ids(&last), ids(&first), "{field}: no argument reads from the start");
        assert_eq!(
            ids(&connection.page(&app, json!({ "last": 100 })).await).len(),
            connection.all(&app, &json!(null)).await.len()
        );
        let cursor = first["pageInfo"]["endCursor"].clone();
        for refused in [
            json!({ "first": 101 }),
            json!({ "last": 101 }),
            json!({ "first": -1 }),
            json!({ "first": 2, "last": 2 }),
            json!({ "first": 2, "before": cursor }),
            json!({ "after": cursor, "last": 2 }),
        ] {
            let response = connection.response(&app, refused.clone()).await;
            assert_eq!(graphql_error_code(&response), json!("INVALID_INPUT"), "{field} {refused}: {response}");
        }
    }
}

#[tokio::test]
async fn every_connection_walks_both_ways_with_exact_page_info() {
    let app = TestApp::start().await;
    history(&app).await;
    for connection in connections() {
        let (field, filter) = (connection.field, connection.filter.clone());
        let expected = connection.all(&app, &filter).await;
        assert!(expected.len() > 8, "{field}: {expected:?}");
        for size in [4, expected.len() / 2, expected.len()] {
            // Forward: the last page knows there is nothing after it, also
            // when the rows fill it exactly.
            let (mut seen, mut variables) = (Vec::new(), json!({ "first": size, "filter": filter }));
            loop {
                let page = connection.page(&app, variables.clone()).await;
                let page_ids = ids(&page);
                seen.extend(page_ids.clone());
                assert_eq!(info(&page), (seen.len() > page_ids.len(), seen.len() < expected.len()), "{field} {size}");
                if !info(&page).1 {
                    break;
                }
                variables["after"] = page["pageInfo"]["endCursor"].clone();
            }
            assert_eq!(seen, expected, "{field} {size}");
            // Backward from the end: the same rows in the same order.
            let (mut back, mut variables) = (Vec::new(), json!({ "last": size, "filter": filter }));
            loop {
                let page = connection.page(&app, variables.clone()).await;
                let mut page_ids = ids(&page);
                let after_page = back.len();
                page_ids.extend(back);
                back = page_ids;
                assert_eq!(info(&page), (back.len() < expected.len(), after_page > 0), "{field} {size}");
                if !info(&page).0 {
                    break;
                }
                variables["before"] = page["pageInfo"]["startCursor"].clone();
            }
            assert_eq!(back, expected, "{field} {size}");
        }
    }
}

#[tokio::test]
async fn page_info_says_what_lies_beyond_a_cursor_not_that_there_was_one() {
    let app = TestApp::start().await;
    history(&app).await;
    for connection in connections() {
        let field = connection.field;
        let all = connection.all(&app, &json!(null)).await;
        let first = connection.page(&app, json!({ "first": 2 })).await;
        let cursor = &first["pageInfo"]["endCursor"];
        // After a position newer than every row: nothing lies before the page.
        let after_all =
            connection.page(&app, json!({ "first": 2, "after": moved(cursor, connection.past_every_row) })).await;
        assert_eq!((ids(&after_all), info(&after_all)), (all[..2].to_vec(), (false, true)), "{field}");
        // Before a position older than every row: the oldest rows, and
        // nothing after them.
        let before_all =
            connection.page(&app, json!({ "last": 2, "before": moved(cursor, connection.before_every_row) })).await;
        assert_eq!((ids(&before_all), info(&before_all)), (all[all.len() - 2..].to_vec(), (true, false)), "{field}");
        // The first row's own cursor: it lies before the page.
        let newest = connection.page(&app, json!({ "first": 1 })).await["pageInfo"]["endCursor"].clone();
        let next = connection.page(&app, json!({ "first": 1, "after": newest })).await;
        assert_eq!((ids(&next), info(&next)), (all[1..2].to_vec(), (true, true)), "{field}");
        // An empty page still tells both ways.
        let empty = connection.page(&app, json!({ "first": 0, "after": newest })).await;
        assert_eq!((ids(&empty), info(&empty)), (vec![], (true, true)), "{field}");
    }
}

#[tokio::test]
async fn every_connections_cursors_are_bound_to_it_and_its_filter() {
    let app = TestApp::start().await;
    history(&app).await;
    let [usage, ledger] = connections();
    let usage_cursor = usage.page(&app, json!({ "first": 2 })).await["pageInfo"]["endCursor"].clone();
    let ledger_cursor = ledger.page(&app, json!({ "first": 2 })).await["pageInfo"]["endCursor"].clone();
    for (connection, foreign) in [(&usage, &ledger_cursor), (&ledger, &usage_cursor)] {
        let field = connection.field;
        let filtered = connection.page(&app, json!({ "first": 2, "filter": connection.filter })).await;
        let cursor = filtered["pageInfo"]["endCursor"].clone();
        // The same filter spelled another way takes the cursor.
        let same =
            connection.page(&app, json!({ "first": 2, "after": cursor, "filter": connection.same_filter })).await;
        let expected = connection.all(&app, &connection.filter).await;
        assert_eq!(ids(&same), expected[2..4].to_vec(), "{field}");
        for (variables, why) in [
            (json!({ "first": 2, "after": cursor }), "another filter (none)"),
            (json!({ "last": 2, "before": cursor }), "another filter, backward"),
            (json!({ "first": 2, "after": foreign }), "another connection's cursor"),
            (json!({ "first": 2, "after": "bGVkZ2VyOjQy" }), "a forged one (ledger:42)"),
        ] {
            let response = connection.response(&app, variables.clone()).await;
            assert_eq!(graphql_error_code(&response), json!("INVALID_INPUT"), "{field}, {why}: {response}");
            let field_at_fault = if variables.get("before").is_some() { "before" } else { "after" };
            assert_eq!(response["errors"][0]["extensions"]["field"], json!(field_at_fault), "{field}, {why}");
        }
    }
}
