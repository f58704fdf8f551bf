//! The headers every response carries: a Content-Security-Policy that lets
//! a page load scripts, styles, images, fonts and connections from the
//! server's own origin only, and `X-Content-Type-Options: nosniff`.
use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// - `'self'` covers `ws:`/`wss:` to the page's own host and port in CSP
///   level 3 browsers, so `connect-src` needs no host spelled out (which
///   would mean trusting the request's `Host`).
/// - No `unsafe-inline` or `unsafe-eval`: every script and style is a file
///   the server serves. GraphiQL sets element styles through the CSSOM,
///   which CSP does not govern.
/// - `data:` for images and fonts only: GraphiQL's stylesheet embeds its
///   fonts and two icons as `data:` URLs, which fetch nothing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the headers to every response of `routes` that has none of its own.
pub fn apply(routes: Router) -> Router {
    routes
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}
