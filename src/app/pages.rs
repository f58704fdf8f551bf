//! The HTML pages: GraphiQL at `/` (and at `/graphql` for a browser), and
//! the wallet and usage dashboard at `/dashboard`. A page
//! is a committed HTML file in `assets/pages/` whose `{{asset:NAME}}` marks
//! become the addresses of embedded files (see `assets`); it holds no inline
//! script or style, so the Content-Security-Policy needs no exception.
use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use super::assets;

const MARK_START: &str = "{{asset:";
const MARK_END: &str = "}}";

static GRAPHIQL: LazyLock<String> =
    LazyLock::new(|| render(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/pages/graphiql.html"))));

static DASHBOARD: LazyLock<String> =
    LazyLock::new(|| render(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/pages/dashboard.html"))));

/// GraphiQL, from the embedded files only.
pub fn graphiql() -> Response {
    page(&GRAPHIQL)
}

/// The dashboard: a page of ES modules that reads the API as its user.
pub fn dashboard() -> Response {
    page(&DASHBOARD)
}

/// A page is small and names its assets by their current addresses, so the
/// browser asks again each time (the assets themselves it keeps).
fn page(html: &'static str) -> Response {
    ([(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))], Html(html)).into_response()
}

/// The template with each `{{asset:NAME}}` replaced by that file's address;
/// a name that is not embedded is left as it is (a unit test finds it).
fn render(template: &str) -> String {
    let mut html = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find(MARK_START) {
        let Some(length) = rest[start..].find(MARK_END) else { break };
        let mark = &rest[start..start + length + MARK_END.len()];
        let name = &mark[MARK_START.len()..mark.len() - MARK_END.len()];
        html.push_str(&rest[..start]);
        html.push_str(assets::url(name).unwrap_or(mark));
        rest = &rest[start + mark.len()..];
    }
    html.push_str(rest);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> [&'static str; 2] {
        [&GRAPHIQL, &DASHBOARD]
    }

    #[test]
    fn every_asset_a_page_names_is_embedded() {
        for page in pages() {
            assert!(!page.contains(MARK_START), "{page}");
        }
        assert!(GRAPHIQL.contains("/vendor/graphiql-4.1.2/graphiql.min.js\""), "{}", *GRAPHIQL);
        assert!(DASHBOARD.contains("/pages/dashboard/app.js\""), "{}", *DASHBOARD);
    }

    #[test]
    fn a_page_has_no_inline_script_or_style() {
        for page in pages() {
            assert!(!page.contains("<script>"), "{page}");
            assert!(!page.contains("<style"), "{page}");
            assert!(!page.contains(" style="), "{page}");
        }
    }

    #[test]
    fn marks_are_replaced_and_unknown_names_kept() {
        let url = assets::url("pages/graphiql.js").expect("embedded");
        assert_eq!(render("<a {{asset:pages/graphiql.js}}>"), format!("<a {url}>"));
        assert_eq!(render("{{asset:nothing}} {{asset:"), "{{asset:nothing}} {{asset:");
    }
}
