//! The HTTP server: GraphQL over POST and GET at `/graphql`, WebSocket
//! subscriptions (graphql-transport-ws) on the same path, GraphiQL at `/`
//! (and at `/graphql` for browsers), `/healthz`.
use async_graphql::http::GraphiQLSource;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Auth;
use crate::clock::Clock;
use crate::domain::rules::Rules;
use crate::error::Result;
use crate::graphql::context::RequestContext;
use crate::graphql::{self, CreditsSchema};
use crate::store::{DatabaseOptions, Store};

mod graphql_http;
mod websocket;

pub const BODY_LIMIT_BYTES_DEFAULT: usize = 256 * 1024;

#[derive(Clone, Debug)]
pub struct AppOptions {
    pub database: DatabaseOptions,
    pub rules: Rules,
    /// None: use (or create) the secret kept in the database.
    pub jwt_secret: Option<String>,
    pub body_limit_bytes: usize,
}

#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub auth: Auth,
    pub clock: Clock,
    pub schema: CreditsSchema,
    /// Whether the JWT secret was generated (so the operator needs a token printed).
    pub generated_secret: bool,
    body_limit_bytes: usize,
}

impl App {
    pub async fn new(options: AppOptions, clock: Clock) -> Result<App> {
        crate::metrics::handle();
        let store = Store::open(&options.database, options.rules).await?;
        let (secret, generated_secret) = match options.jwt_secret.filter(|s| !s.is_empty()) {
            Some(secret) => (secret, false),
            None => (store.generated_jwt_secret().await?, true),
        };
        let auth = Auth::new(&secret);
        let schema = graphql::schema(store.clone(), auth.clone(), clock.clone());
        Ok(App { store, auth, clock, schema, generated_secret, body_limit_bytes: options.body_limit_bytes })
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(graphiql))
            .route("/graphql", get(graphql_get).post(graphql_post))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .layer(RequestBodyLimitLayer::new(self.body_limit_bytes))
            .layer(TraceLayer::new_for_http())
            .with_state(self.clone())
    }

    fn request_context(&self, headers: &HeaderMap) -> RequestContext {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        RequestContext { caller: self.auth.caller(authorization), now: self.clock.now() }
    }
}

async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql").finish())
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
    upgrade.protocols([websocket::PROTOCOL]).on_upgrade(move |socket| {
        let protocol = socket.protocol().and_then(|p| p.to_str().ok()).map(str::to_owned);
        websocket::serve(app, socket, protocol, header_context)
    })
}

async fn metrics(State(app): State<App>) -> Response {
    // The counters render even when the database (and so the gauges) is away.
    if let Err(error) = app.store.report_metrics().await {
        tracing::warn!(%error, "refreshing metrics failed");
    }
    let body = crate::metrics::handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
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
