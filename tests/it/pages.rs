//! The pages and their files over plain HTTP: GraphiQL names only embedded
//! assets, each served with its type, a year of caching and gzip; every
//! response, pages and GraphQL answers alike, carries the
//! Content-Security-Policy and `nosniff`.
use credits::app::security_headers::CONTENT_SECURITY_POLICY as POLICY;
use reqwest::header::{
    ACCEPT, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderMap,
};
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::support::TestApp;

fn header(headers: &HeaderMap, name: impl reqwest::header::AsHeaderName) -> &str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn assert_secured(response: &Response) {
    let headers = response.headers();
    assert_eq!(header(headers, CONTENT_SECURITY_POLICY), POLICY, "{} {headers:?}", response.url());
    assert_eq!(header(headers, "x-content-type-options"), "nosniff", "{} {headers:?}", response.url());
}

/// The addresses a page's `src` and `href` attributes name.
fn addresses(html: &str) -> Vec<String> {
    html.split(['"', '\''])
        .zip(html.split(['"', '\'']).skip(1))
        .filter(|(before, _)| before.ends_with("src=") || before.ends_with("href="))
        .map(|(_, address)| address.to_owned())
        .collect()
}

/// Opens the page at `path`, checks its headers, and checks that it names
/// `files` addresses, each an embedded file served with its type and a
/// year of caching.
async fn assert_page_of_embedded_files(app: &TestApp, path: &str, files: usize) {
    let client = reqwest::Client::new();
    let page = client.get(format!("{}{path}", app.base_url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_secured(&page);
    assert_eq!(header(page.headers(), CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header(page.headers(), CACHE_CONTROL), "no-cache");
    let html = page.text().await.unwrap();
    let assets: Vec<_> = addresses(&html).into_iter().filter(|a| a != "data:,").collect();
    assert_eq!(assets.len(), files, "{assets:?}");
    for asset in assets {
        assert!(asset.starts_with("/assets/"), "{asset} is not the server's own");
        let response = client.get(format!("{}{asset}", app.base_url)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert_secured(&response);
        assert_eq!(header(response.headers(), CACHE_CONTROL), "public, max-age=31536000, immutable");
        let expected_type = if asset.ends_with(".js") { "text/javascript" } else { "text/css" };
        assert_eq!(header(response.headers(), CONTENT_TYPE), format!("{expected_type}; charset=utf-8"), "{asset}");
    }
}

#[tokio::test]
async fn graphiql_names_only_embedded_assets_served_with_their_type_and_a_year_of_caching() {
    let app = TestApp::start().await;
    assert_page_of_embedded_files(&app, "/", 6).await;
}

#[tokio::test]
async fn the_dashboard_names_only_embedded_assets_served_with_their_type_and_a_year_of_caching() {
    let app = TestApp::start().await;
    // Two styles, uPlot, htm with Preact, and the page's thirteen modules.
    assert_page_of_embedded_files(&app, "/dashboard", 17).await;
}

#[tokio::test]
async fn credits_token_dashboard_prints_a_link_that_signs_in() {
    let app = TestApp::start().await;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_credits"));
    command.args(["token", "--role", "user", "--sub", "alice", "--dashboard"]);
    command.args(["--jwt-secret", crate::support::SECRET, "--listen", "127.0.0.1:8123"]);
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("run credits token");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let link = String::from_utf8(output.stdout).unwrap();
    let token = link.trim().strip_prefix("http://127.0.0.1:8123/dashboard#token=").expect(&link);
    let viewer = app.data(Some(token), "{ viewer { id } }", json!({})).await;
    assert_eq!(viewer["viewer"]["id"], "alice");
}

#[tokio::test]
async fn assets_are_gzipped_for_who_asks_and_unknown_or_stale_addresses_are_404() {
    let app = TestApp::start().await;
    let client = reqwest::Client::new();
    let html = client.get(format!("{}/", app.base_url)).send().await.unwrap().text().await.unwrap();
    let bundle = addresses(&html).into_iter().find(|a| a.ends_with("graphiql.min.js")).expect("GraphiQL's bundle");
    let url = format!("{}{bundle}", app.base_url);
    let plain = client.get(&url).send().await.unwrap();
    assert_eq!(header(plain.headers(), CONTENT_ENCODING), "");
    let plain_length = plain.bytes().await.unwrap().len();
    let zipped = client.get(&url).header(ACCEPT_ENCODING, "gzip").send().await.unwrap();
    assert_eq!(header(zipped.headers(), CONTENT_ENCODING), "gzip");
    assert_secured(&zipped);
    let zipped_length = zipped.bytes().await.unwrap().len();
    assert!(zipped_length * 3 < plain_length, "{zipped_length} of {plain_length} bytes");

    let stale = url.replacen("/assets/", "/assets/0", 1);
    for address in [stale, format!("{}/assets/0000000000000000/vendor/nothing.js", app.base_url)] {
        let response = client.get(&address).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{address}");
        assert_secured(&response);
    }
}

#[tokio::test]
async fn graphql_answers_carry_the_security_headers_too() {
    let app = TestApp::start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", app.base_url);
    let post = client.post(&url).json(&json!({ "query": "{ plans { code } }" })).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::OK);
    assert_secured(&post);
    let get = client.get(&url).query(&[("query", "{ plans { code } }")]).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    assert_secured(&get);
    assert!(get.text().await.unwrap().contains("\"plans\""));
    let page = client.get(&url).header(ACCEPT, "text/html").send().await.unwrap();
    assert_secured(&page);
    assert!(page.text().await.unwrap().contains("/vendor/graphiql-4.1.2/graphiql.min.js"));
    let health = client.get(format!("{}/healthz", app.base_url)).send().await.unwrap();
    assert_secured(&health);
}
