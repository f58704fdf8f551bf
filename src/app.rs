//! The HTTP server: GraphQL over POST and GET at `/graphql`, WebSocket
//! subscriptions (graphql-transport-ws) on the same path, GraphiQL at `/`,
//! `/healthz`.
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::{FromRequest, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{Auth, Caller};
use crate::clock::Clock;
use crate::domain::rules::Rules;
use crate::error::Result;
use crate::graphql::context::RequestContext;
use crate::graphql::{self, CreditsSchema};
use crate::store::{DatabaseOptions, Store};

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

async fn graphql_post(State(app): State<App>, headers: HeaderMap, request: GraphQLRequest) -> GraphQLResponse {
    let context = app.request_context(&headers);
    app.schema.execute(request.into_inner().data(context)).await.into()
}

/// A GET is either a WebSocket upgrade (subscriptions) or a query in the URL.
async fn graphql_get(State(app): State<App>, request: Request) -> Response {
    let is_upgrade = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade {
        return websocket(app, request).await;
    }
    let context = app.request_context(request.headers());
    match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(request, &()).await {
        Ok(graphql_request) => {
            GraphQLResponse::from(app.schema.execute(graphql_request.into_inner().data(context)).await).into_response()
        }
        Err(rejection) => rejection.into_response(),
    }
}

async fn websocket(app: App, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(status) => return status.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let header_context = app.request_context(&parts.headers);
    let schema = app.schema.clone();
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| async move {
        GraphQLWebSocket::new(socket, schema, protocol)
            .on_connection_init(move |payload| async move {
                // The token may come in the connection_init payload (browsers
                // cannot set headers on a WebSocket) or in the upgrade's header.
                let from_payload = ["Authorization", "authorization"]
                    .iter()
                    .find_map(|key| payload.get(*key).and_then(|v| v.as_str()).map(str::to_owned));
                let context = match from_payload {
                    Some(value) => RequestContext { caller: app.auth.caller(Some(&value)), now: app.clock.now() },
                    None => header_context,
                };
                if let Caller::Invalid(reason) = &context.caller {
                    return Err(async_graphql::Error::new(reason.clone()));
                }
                let mut data = Data::default();
                data.insert(context);
                Ok(data)
            })
            .keepalive_timeout(Duration::from_secs(30))
            .serve()
            .await
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
