//! `/metrics` in Prometheus text. Its figures (charges, credits moved, errors
//! by code, open holds) are the business's own, so the API's listener shows
//! them to admins only; Prometheus scrapes them without a token on a
//! listener of their own (`CREDITS_METRICS_LISTEN`), bound where only the
//! scraper reaches it.
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::App;
use crate::auth::{Caller, Role};

/// The metrics listener's routes: `/metrics`, for whoever reaches it.
pub fn router(app: App) -> Router {
    Router::new().route("/metrics", get(render)).with_state(app)
}

/// The API listener's `/metrics`: 401 without valid credentials, 403 for a
/// role other than admin.
pub async fn for_admins(State(app): State<App>, headers: HeaderMap) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match app.auth.caller(authorization) {
        Caller::Authenticated { role: Role::Admin, .. } => render(State(app)).await,
        Caller::Authenticated { .. } => refuse(StatusCode::FORBIDDEN, "FORBIDDEN", "metrics are for admins"),
        Caller::Anonymous => {
            refuse(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "metrics need an admin's bearer token")
        }
        Caller::Invalid(reason) => refuse(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", &reason),
    }
}

pub(super) fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

async fn render(State(app): State<App>) -> Response {
    // The counters render even when the database (and so the gauges) is away.
    if let Err(error) = app.store.report_metrics(app.clock.now()).await {
        tracing::warn!(%error, "refreshing metrics failed");
    }
    let body = crate::metrics::handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}
