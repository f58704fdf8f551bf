//! Prometheus metrics at `/metrics`: requests and latency by GraphQL
//! operation (its name, else its first root field), credits moved by ledger
//! kind and lot source, charges by outcome, user errors by code, open holds,
//! database pools, SQLite group commits.
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection};
use async_graphql::{Response, ServerResult, Variables};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Seconds; from a cached read to a slow report.
const LATENCY_BUCKETS_SECONDS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// From an event's commit to its successful delivery: a second when the
/// receiver is up, up to a day and more through the retries.
const WEBHOOK_LATENCY: &str = "credits_webhook_delivery_latency_seconds";
const WEBHOOK_LATENCY_BUCKETS_SECONDS: [f64; 12] =
    [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 7200.0, 21_600.0, 86_400.0, 172_800.0];

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS_SECONDS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(WEBHOOK_LATENCY.into()), &WEBHOOK_LATENCY_BUCKETS_SECONDS)
            })
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a test binary, an
        // embedding program); then this handle renders only what it saw.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub fn user_error(code: &'static str) {
    metrics::counter!("credits_user_errors_total", "code" => code).increment(1);
}

/// An event committed to the outbox.
pub fn event_written(event_type: &'static str) {
    metrics::counter!("credits_events_written_total", "type" => event_type).increment(1);
}

pub fn charge(outcome: &'static str) {
    metrics::counter!("credits_charges_total", "outcome" => outcome).increment(1);
}

pub fn credits_moved(kind: &'static str, source: &'static str, amount: i64) {
    metrics::counter!("credits_moved_total", "kind" => kind, "source" => source).increment(amount.unsigned_abs());
}

/// One SQLite group commit: how many account transactions it carried and
/// how long its commit (the flush to disk) took.
pub fn group_commit(writes: usize, flush: std::time::Duration) {
    metrics::counter!("credits_group_commits_total").increment(1);
    metrics::counter!("credits_group_commit_writes_total").increment(writes as u64);
    metrics::histogram!("credits_group_commit_flush_seconds").record(flush.as_secs_f64());
}

/// One webhook attempt recorded: `succeeded`, `retried` or `failed`.
pub fn webhook_delivery(outcome: &'static str) {
    metrics::counter!("credits_webhook_deliveries_total", "outcome" => outcome).increment(1);
}

/// A successful delivery, `seconds` after its event was committed.
pub fn webhook_latency(seconds: f64) {
    metrics::histogram!(WEBHOOK_LATENCY).record(seconds);
}

pub fn gauge(name: &'static str, value: f64) {
    metrics::gauge!(name).set(value);
}

pub fn pool(pool: &'static str, in_use: u32, idle: u32, waiting: i64) {
    metrics::gauge!("credits_db_connections_in_use", "pool" => pool).set(f64::from(in_use));
    metrics::gauge!("credits_db_connections_idle", "pool" => pool).set(f64::from(idle));
    metrics::gauge!("credits_db_waiting", "pool" => pool).set(waiting as f64);
}

/// Times every GraphQL operation and counts its errors by code.
pub struct GraphqlMetrics;

impl ExtensionFactory for GraphqlMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationMetrics { field: Mutex::new(None) })
    }
}

struct OperationMetrics {
    field: Mutex<Option<String>>,
}

/// Distinct operation names that become labels. Clients choose the names,
/// and every name is a new series in each scrape; past this many, a new name
/// counts as `other`, so a client cannot grow the scrape without bound.
const OPERATION_NAMES_MAX: usize = 200;

/// The label of a named operation: its name while there is room, then `other`.
fn named_operation(name: &str) -> String {
    static NAMES: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Ok(mut names) = NAMES.get_or_init(Mutex::default).lock() else { return "other".into() };
    if names.contains(name) || (names.len() < OPERATION_NAMES_MAX && names.insert(name.to_owned())) {
        name.to_owned()
    } else {
        "other".into()
    }
}

/// The first root field of an anonymous operation: a name from the schema,
/// so a bounded set. A document with several operations names each of them.
fn anonymous_operation(document: &ExecutableDocument) -> Option<String> {
    let DocumentOperations::Single(operation) = &document.operations else { return None };
    operation.node.selection_set.node.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => Some(field.node.name.node.to_string()),
        _ => None,
    })
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationMetrics {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Ok(mut field) = self.field.lock() {
            *field = anonymous_operation(&document);
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let started = Instant::now();
        let response = next.run(ctx, operation_name).await;
        // async-graphql passes the executed operation's name: the request's
        // `operationName`, or the name of the document's one operation.
        let operation = match operation_name {
            Some(name) => named_operation(name),
            None => self.field.lock().ok().and_then(|f| f.clone()).unwrap_or_else(|| "unknown".into()),
        };
        metrics::histogram!("credits_graphql_request_duration_seconds", "operation" => operation.clone())
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("credits_graphql_requests_total", "operation" => operation).increment(1);
        for error in &response.errors {
            let code = error
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .map_or_else(|| "GRAPHQL_ERROR".to_owned(), |c| c.to_string().trim_matches('"').to_owned());
            metrics::counter!("credits_graphql_errors_total", "code" => code).increment(1);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_past_the_limit_count_as_other() {
        // The set is the process's: other tests may have named some already.
        let names: Vec<String> = (0..=OPERATION_NAMES_MAX).map(|i| format!("LimitTest{i}")).collect();
        let labels: Vec<String> = names.iter().map(|name| named_operation(name)).collect();
        assert_eq!(labels.last().map(String::as_str), Some("other"));
        assert_eq!(named_operation(&names[0]), labels[0], "a name keeps its label");
        assert!(labels.iter().zip(&names).all(|(label, name)| label == name || label == "other"));
    }
}
