//! GraphQL over HTTP, to the letter of the specification (the `graphql-http`
//! audits run in CI): the response media type follows `Accept`
//! (`application/graphql-response+json` or `application/json`); a request
//! that is no GraphQL-over-HTTP request (a body that is not JSON, no query) is
//! 400 under either; GraphQL request errors (the document does not parse or
//! validate) are 400 without `data` under the former and 200 under the latter;
//! a POST whose `Content-Type` is not JSON is 415; a mutation over GET is 405.
use async_graphql::{BatchRequest, BatchResponse, Request, Response, Variables};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use serde_json::{Map, Value, json};

use super::{App, nesting};

/// Most operations in one batched POST.
pub const BATCH_SIZE_MAX: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// The response media type the client accepts; None when it accepts neither.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let types: Vec<&str> = accept.split(',').map(|t| t.split(';').next().unwrap_or("").trim()).collect();
    if types.contains(&"application/graphql-response+json") {
        Some(MediaType::GraphqlResponseJson)
    } else if types.iter().any(|t| matches!(*t, "application/json" | "application/*" | "*/*")) {
        Some(MediaType::Json)
    } else {
        None
    }
}

/// A request that is not a well-formed GraphQL-over-HTTP request: the body
/// is not JSON, there is no query, a parameter has the wrong type, or it nests
/// past a limit (see `nesting`). The specification asks for 400 under either
/// media type (its SHOULD for `application/json` too), so a client can tell
/// it from a GraphQL request error, which `application/json` answers 200.
#[derive(Debug)]
pub struct Refusal(String);

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Refusal(message)
    }
}

impl From<&str> for Refusal {
    fn from(message: &str) -> Self {
        Refusal(message.to_owned())
    }
}

impl Refusal {
    fn respond(self, media: MediaType) -> HttpResponse {
        let body = json!({ "errors": super::errors("BAD_REQUEST", &self.0) });
        (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, media.content_type())], body.to_string()).into_response()
    }
}

fn respond(media: MediaType, response: Response) -> HttpResponse {
    let request_error = super::failed_before_executing(&response);
    let status = match (request_error, media) {
        (true, MediaType::GraphqlResponseJson) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let body = if request_error { text(&json!({ "errors": response.errors })) } else { text(&response) };
    (status, [(header::CONTENT_TYPE, media.content_type())], body).into_response()
}

/// A response's JSON text, serialized the standard way (async-graphql's
/// `Serialize`). Nothing in a response can fail to serialize; if something
/// ever did, the client gets an internal error and the log the detail.
fn text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|error| {
        tracing::error!(%error, "a response did not serialize");
        json!({ "errors": super::errors("INTERNAL_SERVER_ERROR", "internal error") }).to_string()
    })
}

fn respond_batch(media: MediaType, response: BatchResponse) -> HttpResponse {
    match response {
        BatchResponse::Single(single) => respond(media, single),
        BatchResponse::Batch(many) => {
            let body = text(&many);
            (StatusCode::OK, [(header::CONTENT_TYPE, media.content_type())], body).into_response()
        }
    }
}

/// The GraphQL request of a JSON object, checking each parameter's type and
/// the document's nesting before anything parses it.
pub fn parse_params(params: &Map<String, Value>) -> Result<Request, Refusal> {
    let query = match params.get("query") {
        Some(Value::String(query)) => query.clone(),
        Some(_) => return Err("query must be a string".into()),
        None => return Err("the request has no query".into()),
    };
    nesting::check_document(&query)?;
    let mut request = Request::new(query);
    match params.get("operationName") {
        Some(Value::String(name)) => request = request.operation_name(name.clone()),
        Some(Value::Null) | None => {}
        Some(_) => return Err("operationName must be a string".into()),
    }
    match params.get("variables") {
        Some(variables @ Value::Object(_)) => request = request.variables(Variables::from_json(variables.clone())),
        Some(Value::Null) | None => {}
        Some(_) => return Err("variables must be a map".into()),
    }
    match params.get("extensions") {
        Some(Value::Object(extensions)) => {
            for (key, value) in extensions {
                let value = async_graphql::Value::from_json(value.clone()).unwrap_or_default();
                request.extensions.insert(key.clone(), value);
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => return Err("extensions must be a map".into()),
    }
    Ok(request)
}

fn parse_body(body: &[u8]) -> Result<BatchRequest, Refusal> {
    nesting::check_json(body)?;
    match serde_json::from_slice::<Value>(body) {
        Err(_) if body.is_empty() => Err("the request has no body".into()),
        Err(error) => Err(format!("the body is not JSON: {error}").into()),
        Ok(Value::Object(params)) => parse_params(&params).map(BatchRequest::Single),
        Ok(Value::Array(batch)) if (1..=BATCH_SIZE_MAX).contains(&batch.len()) => batch
            .iter()
            .map(|item| {
                item.as_object().ok_or_else(|| Refusal::from("a batch holds request objects")).and_then(parse_params)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(BatchRequest::Batch),
        Ok(Value::Array(_)) => Err(format!("a batch holds 1 to {BATCH_SIZE_MAX} requests").into()),
        Ok(_) => Err("the body must be a JSON object".into()),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

pub async fn post(app: &App, headers: &HeaderMap, body: Bytes) -> HttpResponse {
    let Some(media) = negotiate(headers) else {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    };
    if !is_json(headers) {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "GraphQL requests are POSTed as application/json").into_response();
    }
    let request = match parse_body(&body) {
        Ok(request) => request,
        Err(refusal) => return refusal.respond(media),
    };
    let context = app.request_context(headers);
    respond_batch(media, app.schema.execute_batch(request.data(context)).await)
}

/// A query in the URL. Mutations are refused: a GET must not change anything.
pub async fn get(app: &App, headers: &HeaderMap, query: Option<&str>) -> HttpResponse {
    let Some(media) = negotiate(headers) else {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    };
    let request = match form_urlencoded(query.unwrap_or("")).and_then(|params| parse_params(&params)) {
        Ok(request) => request,
        Err(refusal) => return refusal.respond(media),
    };
    if is_mutation(&request) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("POST"))],
            "mutations need POST",
        )
            .into_response();
    }
    let context = app.request_context(headers);
    respond(media, app.schema.execute(request.data(context)).await)
}

/// GET parameters; `variables` and `extensions` are URL-encoded JSON.
fn form_urlencoded(query: &str) -> Result<Map<String, Value>, Refusal> {
    url_pairs(query)
        .into_iter()
        .map(|(key, value)| {
            let value = match key.as_str() {
                "variables" | "extensions" => {
                    nesting::check_json(value.as_bytes())?;
                    serde_json::from_str(&value).unwrap_or(Value::String(value))
                }
                _ => Value::String(value),
            };
            Ok((key, value))
        })
        .collect()
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

fn is_mutation(request: &Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else { return false };
    let selected = |ty: OperationType| ty == OperationType::Mutation;
    match &document.operations {
        DocumentOperations::Single(operation) => selected(operation.node.ty),
        DocumentOperations::Multiple(operations) => match &request.operation_name {
            Some(name) => operations.get(name.as_str()).is_some_and(|op| selected(op.node.ty)),
            None => operations.values().any(|op| selected(op.node.ty)),
        },
    }
}

/// Whether a GET is a browser asking for a page rather than a client for data.
pub fn wants_html(method: &Method, headers: &HeaderMap, query: Option<&str>) -> bool {
    let accepts_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').next().is_some_and(|first| first.trim().starts_with("text/html")));
    method == Method::GET && accepts_html && !url_pairs(query.unwrap_or("")).iter().any(|(key, _)| key == "query")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_media_type_follows_accept() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(MediaType::Json));
        assert_eq!(negotiate(&accept("*/*")), Some(MediaType::Json));
        assert_eq!(negotiate(&accept("application/json")), Some(MediaType::Json));
        assert_eq!(
            negotiate(&accept("application/graphql-response+json, application/json;q=0.9")),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(negotiate(&accept("text/plain")), None);
    }

    #[test]
    fn parameters_of_the_wrong_type_are_refused() {
        for body in [
            json!({ "notquery": "{ __typename }" }),
            json!({ "query": 0 }),
            json!({ "query": "{ a }", "operationName": false }),
            json!({ "query": "{ a }", "variables": "x" }),
            json!({ "query": "{ a }", "extensions": ["x"] }),
            json!("just a string"),
        ] {
            assert!(parse_body(body.to_string().as_bytes()).is_err(), "{body}");
        }
        assert!(parse_body(b"").is_err());
        assert!(parse_body(br#"{"query":"{ a }","variables":null,"operationName":null,"extensions":null}"#).is_ok());
    }

    #[test]
    fn mutations_are_found_in_the_selected_operation() {
        assert!(is_mutation(&Request::new("mutation { a }")));
        assert!(!is_mutation(&Request::new("{ a }")));
        assert!(!is_mutation(&Request::new("query Q { a } mutation M { b }").operation_name("Q")));
        assert!(is_mutation(&Request::new("query Q { a } mutation M { b }").operation_name("M")));
    }
}
