//! The HTTP server: GraphQL over POST and GET at `/graphql`, WebSocket
//! subscriptions (graphql-transport-ws) on the same path, GraphiQL at `/`
//! (and at `/graphql` for browsers) and the dashboard at `/dashboard`
//! (`pages`) with their embedded files under
//! `/assets/` (`assets`), `/healthz`, `/export/usage.csv` (`export_http`),
//! and `/metrics` for admins (or for anyone on the metrics listener, see
//! `metrics_http`). Every response carries the security headers of
//! `security_headers`.
use std::any::Any;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Auth;
use crate::clock::Clock;
use crate::domain::rules::Rules;
use crate::error::Result;
use crate::graphql::context::RequestContext;
use crate::graphql::{self, CreditsSchema};
use crate::store::webhooks::WebhookSettings;
use crate::store::{DatabaseOptions, Store};
use crate::webhooks::{Secrets, Worker};

mod assets;
mod export_http;
mod graphql_http;
mod metrics_http;
pub mod nesting;
mod pages;
pub mod security_headers;
mod websocket;

pub const BODY_LIMIT_BYTES_DEFAULT: usize = 256 * 1024;
pub const REQUEST_TIMEOUT_SECONDS_DEFAULT: u64 = 30;
/// How often a process checks the catalog's version (the safety net beside
/// PostgreSQL's notifications, and SQLite's way to see the import command's).
pub const CATALOG_CHECK_EVERY: Duration = Duration::from_secs(1);

/// What one request may take: the bounds that hold before any GraphQL limit.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// Largest HTTP body, and largest WebSocket message.
    pub body_bytes: usize,
    /// Longest an HTTP request may run before it is answered 503.
    pub timeout: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            body_bytes: BODY_LIMIT_BYTES_DEFAULT,
            timeout: Duration::from_secs(REQUEST_TIMEOUT_SECONDS_DEFAULT),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AppOptions {
    pub database: DatabaseOptions,
    pub rules: Rules,
    /// None: use (or create) the secret kept in the database.
    pub jwt_secret: Option<String>,
    pub limits: RequestLimits,
    pub webhooks: crate::config::WebhookOptions,
}

#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub auth: Auth,
    pub clock: Clock,
    pub schema: CreditsSchema,
    /// Whether the JWT secret was generated (so the operator needs a token printed).
    pub generated_secret: bool,
    limits: RequestLimits,
    webhook_worker: crate::webhooks::WorkerOptions,
}

impl App {
    pub async fn new(options: AppOptions, clock: Clock) -> Result<App> {
        crate::metrics::handle();
        let mut store = Store::open(&options.database, options.rules).await?;
        store.configure_webhooks(WebhookSettings {
            secrets: Secrets::new(options.webhooks.secret_key),
            deny_private: options.webhooks.deny_private,
        });
        let (secret, generated_secret) = match options.jwt_secret.filter(|s| !s.is_empty()) {
            Some(secret) => (secret, false),
            None => (store.generated_jwt_secret().await?, true),
        };
        let auth = Auth::new(&secret);
        let schema = graphql::schema(store.clone(), auth.clone(), clock.clone());
        let webhook_worker = options.webhooks.worker;
        Ok(App { store, auth, clock, schema, generated_secret, limits: options.limits, webhook_worker })
    }

    /// Keeps the catalog current with other processes' changes (a check a
    /// second, and PostgreSQL's notifications); runs until aborted.
    pub fn spawn_catalog_watcher(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.store.clone().watch_catalog(CATALOG_CHECK_EVERY))
    }

    /// Starts the webhook delivery worker; it runs until the handle is aborted.
    pub fn spawn_webhook_worker(&self) -> Result<tokio::task::JoinHandle<()>> {
        let worker = Worker::new(self.store.clone(), self.clock.clone(), self.webhook_worker.clone())?;
        Ok(tokio::spawn(worker.run()))
    }

    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route("/", get(graphiql))
            .route("/dashboard", get(dashboard))
            .route("/graphql", get(graphql_get).post(graphql_post))
            .route("/healthz", get(healthz))
            .route("/export/usage.csv", get(export_http::usage_csv))
            .route("/metrics", get(metrics_http::for_admins))
            // Only the assets are compressed: they are most of a page's
            // weight, and GraphQL answers keep the framing clients expect.
            .route(assets::ROUTE, get(assets::serve).layer(CompressionLayer::new()))
            .with_state(self.clone());
        security_headers::apply(bounded(routes, self.limits))
    }

    /// The routes of the metrics listener (`CREDITS_METRICS_LISTEN`).
    pub fn metrics_router(&self) -> Router {
        security_headers::apply(bounded(metrics_http::router(self.clone()), self.limits))
    }

    fn request_context(&self, headers: &HeaderMap) -> RequestContext {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        RequestContext { caller: self.auth.caller(authorization), now: self.clock.now() }
    }
}

/// Every route within the request limits: the body's size, the time, and a
/// panic caught at the boundary.
fn bounded(routes: Router, limits: RequestLimits) -> Router {
    routes
        .layer(RequestBodyLimitLayer::new(limits.body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limits.timeout))
        .layer(catch_panics())
        .layer(TraceLayer::new_for_http())
}

/// A panic inside a request is answered as an internal error, with nothing
/// of its text on the wire; the detail goes to the log and the server lives on.
fn catch_panics() -> CatchPanicLayer<fn(Box<dyn Any + Send>) -> Response> {
    CatchPanicLayer::custom(internal_error as fn(Box<dyn Any + Send>) -> Response)
}

fn internal_error(panic: Box<dyn Any + Send>) -> Response {
    tracing::error!(detail = panic_detail(&*panic), "a request panicked");
    let body = serde_json::json!({ "errors": errors("INTERNAL_SERVER_ERROR", "internal error") });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

/// The `errors` of a failure the server answers itself, around GraphQL
/// execution: one error, its message and its `extensions.code`.
fn errors(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!([{ "message": message, "extensions": { "code": code } }])
}

/// Parse and validation failures stop a request before execution: there is
/// no `data`, and no error has a path.
fn failed_before_executing(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The message of a panic, as `panic!` gave it.
fn panic_detail(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message")
}

async fn graphiql() -> Response {
    pages::graphiql()
}

async fn dashboard() -> Response {
    pages::dashboard()
}

async fn graphql_post(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    graphql_http::post(&app, &headers, body).await
}

/// A GET is a WebSocket upgrade (subscriptions), a browser wanting
/// GraphiQL, or a query in the URL.
async fn graphql_get(State(app): State<App>, request: Request) -> Response {
    let is_upgrade = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade {
        return upgrade(app, request).await;
    }
    let query = request.uri().query();
    if graphql_http::wants_html(request.method(), request.headers(), query) {
        return graphiql().await.into_response();
    }
    graphql_http::get(&app, request.headers(), query).await
}

async fn upgrade(app: App, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let header_context = app.request_context(&parts.headers);
    upgrade.max_message_size(app.limits.body_bytes).protocols([websocket::PROTOCOL]).on_upgrade(move |socket| {
        let protocol = socket.protocol().and_then(|p| p.to_str().ok()).map(str::to_owned);
        websocket::serve(app, socket, protocol, header_context)
    })
}

async fn healthz(State(app): State<App>) -> (StatusCode, Json<serde_json::Value>) {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({ "status": "ok", "database": "ok" }))),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    async fn answer(routes: Router, limits: RequestLimits) -> (StatusCode, String) {
        let request = axum::http::Request::get("/").body(Body::empty()).expect("a request");
        let response = bounded(routes, limits).oneshot(request).await.expect("an answer");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_panic_is_an_internal_error_with_nothing_of_its_text() {
        async fn panics() -> &'static str {
            panic!("secret detail")
        }
        let panics = Router::new().route("/", get(panics));
        let (status, body) = answer(panics, RequestLimits::default()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("INTERNAL_SERVER_ERROR"), "{body}");
        assert!(!body.contains("secret"), "{body}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_past_its_time_is_answered_503() {
        let stalls = Router::new().route("/", get(std::future::pending::<()>));
        let limits = RequestLimits { timeout: Duration::from_secs(5), ..RequestLimits::default() };
        assert_eq!(answer(stalls, limits).await.0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
