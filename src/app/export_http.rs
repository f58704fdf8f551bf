//! `/export/usage.csv`: the usage connection's events as CSV (RFC 4180),
//! the `usage` filter as query parameters, the same bearer token and roles.
//! The rows are streamed a keyset page at a time, so a million of them
//! hold one page in memory.
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;

use super::App;
use super::metrics_http::refuse;
use crate::auth::{Caller, Role};
use crate::domain::analytics::UsageFilter;
use crate::domain::catalog::StudioKind;
use crate::domain::text::validate_account_id;
use crate::domain::usage::UsageEvent;
use crate::store::usage_export::EXPORT_PAGE_ROWS;

pub const HEADER: [&str; 11] =
    ["id", "createdAt", "studio", "tool", "model", "count", "units", "credits", "status", "idempotencyKey", "lotSplit"];

/// What the query string asks for.
#[derive(Debug, Default)]
struct Params {
    filter: UsageFilter,
    account_id: Option<String>,
}

pub async fn usage_csv(State(app): State<App>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let (own, role) = match app.auth.caller(authorization) {
        Caller::Authenticated { account_id, role } => (account_id, role),
        Caller::Anonymous => return refuse(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "this needs a bearer token"),
        Caller::Invalid(reason) => return refuse(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", &reason),
    };
    let params = match params(query.as_deref().unwrap_or_default()) {
        Ok(params) => params,
        Err(message) => return bad_request(&message),
    };
    let account_id = match (role, params.account_id) {
        (Role::User, Some(other)) if other != own => {
            return refuse(StatusCode::FORBIDDEN, "FORBIDDEN", "a user may only export their own usage");
        }
        (Role::User, _) => own,
        (_, Some(account_id)) => account_id,
        (_, None) => return bad_request("accountId is required for services and admins"),
    };
    let stream = app.store.usage_export(account_id, params.filter, EXPORT_PAGE_ROWS).map(|page| match page {
        Ok(events) => rows(&events),
        Err(error) => {
            // The status is sent: the body is cut short, which the client sees.
            tracing::error!(%error, "usage export failed");
            Err(std::io::Error::other("usage export failed"))
        }
    });
    let header = futures_util::stream::once(async { rows(&[]) });
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"usage.csv\""),
        (header::CACHE_CONTROL, "no-store"),
    ];
    (headers, Body::from_stream(header.chain(stream))).into_response()
}

fn bad_request(message: &str) -> Response {
    refuse(StatusCode::BAD_REQUEST, "INVALID_INPUT", message)
}

/// The filter and account of a query string; a message for the client if
/// it is not one.
fn params(query: &str) -> Result<Params, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| "the query string is not URL-encoded".to_owned())?;
    let mut params = Params::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in &pairs {
        if seen.contains(&name.as_str()) {
            return Err(format!("{name} is given twice"));
        }
        seen.push(name);
        // An empty value filters nothing, as an absent one.
        let list = || (!value.is_empty()).then(|| value.split(',').map(str::to_owned).collect::<Vec<_>>());
        let filter = &mut params.filter;
        match name.as_str() {
            "from" => filter.from = time(name, value)?,
            "to" => filter.to = time(name, value)?,
            "studios" => filter.studios = list().map(|names| names.iter().map(|s| studio(s)).collect()).transpose()?,
            "tools" => filter.tools = list(),
            "modelIds" => filter.model_ids = list(),
            "accountId" => {
                validate_account_id(value).map_err(|e| e.to_string())?;
                params.account_id = Some(value.clone());
            }
            _ => {
                return Err(format!("unknown parameter {name}: use from, to, studios, tools, modelIds, accountId"));
            }
        }
    }
    params.filter.validate().map_err(|e| e.to_string())?;
    Ok(params)
}

fn time(name: &str, value: &str) -> Result<Option<DateTime<Utc>>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| format!("{name} is not an RFC 3339 time: {value}"))
}

fn studio(name: &str) -> Result<StudioKind, String> {
    StudioKind::parse(name).ok_or_else(|| {
        let all: Vec<&str> = StudioKind::ALL.iter().map(|s| s.as_str()).collect();
        format!("{name} is not a studio: use {}", all.join(", "))
    })
}

/// `events` as CSV rows (the header row when there are none).
fn rows(events: &[UsageEvent]) -> Result<Bytes, std::io::Error> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(events.len() * 128 + 128));
    if events.is_empty() {
        writer.write_record(HEADER)?;
    }
    for event in events {
        let split: Vec<String> =
            event.lot_split.iter().map(|(lot, credits)| format!("{lot}:{}", credits.get())).collect();
        writer.write_record([
            event.id.to_string().as_str(),
            &event.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            event.studio.as_str(),
            &event.tool,
            event.model_id.as_deref().unwrap_or_default(),
            &event.count.to_string(),
            &event.units.map(|u| u.to_string()).unwrap_or_default(),
            &event.credits.get().to_string(),
            event.status.as_str(),
            &event.idempotency_key,
            &split.join(";"),
        ])?;
    }
    writer.into_inner().map(Bytes::from).map_err(|e| e.into_error())
}
