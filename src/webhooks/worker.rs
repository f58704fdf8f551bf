//! The delivery worker: woken by a commit that wrote events (in this
//! process) or once a second (for other processes' events and for retries
//! coming due), it fans the outbox out into deliveries, claims the due ones
//! and posts them, a bounded number at once. Every step is claimable and
//! idempotent (see `store::webhooks::queue`): killed at any line, the next
//! run, here or in another process, picks up where it stopped.
use std::time::Duration;

use futures_util::StreamExt;
use rand::Rng;

use super::post::post;
use crate::clock::{Clock, to_ms};
use crate::domain::webhooks::JITTER_PERMILLE_MAX;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::webhooks::{Claimed, Lease, Outcome, Recorded};

/// How often the worker looks without being woken.
const POLL: Duration = Duration::from_secs(1);
/// How long a woken worker waits for more events before its pass.
const GATHER: Duration = Duration::from_millis(50);
/// Events fanned out (and their deliveries claimed) per transaction.
const DISPATCH_BATCH: u64 = 500;
/// Deliveries claimed per transaction (and their outcomes recorded in one):
/// under load each transaction waits its turn behind the charges, so a
/// delivery's latency is a few transactions, whatever the batch's size.
const CLAIM_BATCH: u64 = 512;
/// Time a claimed attempt keeps its lease beyond the request's time-out:
/// for recording the outcome.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// How long a receiver has to answer (`CREDITS_WEBHOOK_TIMEOUT_SECONDS`).
    pub timeout: Duration,
    /// Attempts in flight at once (a claim's leases cover its batch made
    /// this many at a time).
    pub concurrency: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions { timeout: Duration::from_secs(10), concurrency: 64 }
    }
}

#[derive(Clone)]
pub struct Worker {
    store: Store,
    clock: Clock,
    client: reqwest::Client,
    options: WorkerOptions,
}

impl Worker {
    pub fn new(store: Store, clock: Clock, options: WorkerOptions) -> Result<Worker> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            // A redirect is an answer that is not 2xx: it is not followed
            // (it could lead anywhere, a private address included).
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("credits-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal(format!("webhook HTTP client: {e}")))?;
        Ok(Worker { store, clock, client, options })
    }

    /// Runs until the task is aborted.
    pub async fn run(self) {
        let signal = self.store.outbox_signal();
        loop {
            // Registered before the pass, so a commit during it is not missed.
            let woken = signal.notified();
            if let Err(error) = self.pass().await {
                tracing::warn!(%error, "webhook delivery pass failed");
            }
            tokio::select! {
                // Commits come in streams under load: gather what a short
                // while brings, so that a few transactions carry many
                // deliveries instead of each event its own.
                () = woken => tokio::time::sleep(GATHER).await,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Fans out every undispatched event and makes the first attempts,
    /// then makes every other due attempt; returns the attempts made.
    pub async fn pass(&self) -> Result<usize> {
        let duration = |d: Duration| chrono::Duration::from_std(d).map_err(|e| Error::internal(format!("lease: {e}")));
        let at_once = self.options.concurrency.max(1);
        let lease = Lease { attempt: duration(self.options.timeout)?, at_once, margin: duration(LEASE_MARGIN)? };
        let mut attempts = 0;
        loop {
            let dispatched = self.store.dispatch_events(self.clock.now(), DISPATCH_BATCH, lease).await?;
            attempts += self.attempt(dispatched.claimed).await;
            if (dispatched.events as u64) < DISPATCH_BATCH {
                break;
            }
        }
        loop {
            let claimed = self.store.claim_deliveries(self.clock.now(), CLAIM_BATCH, lease).await?;
            let count = claimed.len();
            attempts += self.attempt(claimed).await;
            if (count as u64) < CLAIM_BATCH {
                return Ok(attempts);
            }
        }
    }

    /// Posts the claimed deliveries, `concurrency` at once, and records
    /// their outcomes; how many.
    async fn attempt(&self, claimed: Vec<Claimed>) -> usize {
        let count = claimed.len();
        let outcomes: Vec<(Claimed, Outcome, i64)> = futures_util::stream::iter(claimed)
            .map(|claimed| async move {
                let outcome = post(&self.client, &claimed, self.clock.now()).await;
                let jitter = rand::rng().random_range(-JITTER_PERMILLE_MAX..=JITTER_PERMILLE_MAX);
                (claimed, outcome, jitter)
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        // One transaction records the whole batch: a transaction each
        // would queue behind one another (and behind the charges, on
        // SQLite's one writer) and hold every later delivery back.
        self.record(outcomes).await;
        count
    }

    async fn record(&self, outcomes: Vec<(Claimed, Outcome, i64)>) {
        if outcomes.is_empty() {
            return;
        }
        let now = self.clock.now();
        let described: Vec<(i64, String, i64)> =
            outcomes.iter().map(|(c, _, _)| (c.delivery_id, c.url.clone(), c.event_created_at_ms)).collect();
        let recorded = match self.store.record_attempts(outcomes, now).await {
            Ok(recorded) => recorded,
            Err(error) => {
                // The leases run out and the attempts are made again.
                tracing::warn!(%error, attempts = described.len(), "recording webhook attempts failed");
                return;
            }
        };
        for ((delivery, url, created_at_ms), recorded) in described.into_iter().zip(recorded) {
            match recorded {
                Recorded::Succeeded => {
                    crate::metrics::webhook_delivery("succeeded");
                    let latency_ms = to_ms(now).saturating_sub(created_at_ms).max(0);
                    crate::metrics::webhook_latency(latency_ms as f64 / 1000.0);
                }
                Recorded::Retried => crate::metrics::webhook_delivery("retried"),
                Recorded::Failed => {
                    crate::metrics::webhook_delivery("failed");
                    tracing::warn!(delivery, %url, "webhook delivery failed for good");
                }
                Recorded::Stale => tracing::info!(delivery, "an attempt outlived its lease; its outcome was dropped"),
            }
        }
    }
}
