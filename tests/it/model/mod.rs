//! Model-based property test of the rules of money (DESIGN.md, section 1).
//!
//! Random sequences of operations on one or two accounts run through the
//! GraphQL API and through a small in-memory model of the rules written
//! here, independent of `src/domain` (it reads the seed catalog, and prices
//! generations itself): charges of any generation of the catalog (every
//! tool, model, unit and option), holds (reserve, capture all or less,
//! release, time-out by moving the clock), refunds, retries of earlier
//! idempotency keys, subscriptions, plan changes, cancellations (at period
//! end and at once), token purchases, admin grants with and without expiry,
//! and moves of the clock to and just before every boundary. After every
//! operation the outcome (success or error code, with needed/available), the
//! payload (usage event, reservation, lot, subscription), the wallet (totals
//! by source and the live lots in spending order, lot ids included) and the
//! subscription must agree; every few steps and at the end the ledger check
//! must be clean and the ledger's running balance and the usage totals match.
//!
//! `MODEL_CASES` cases (16 by default; `.ci/run` sets more) of up to 30
//! steps, on one server; each case has accounts of its own and starts the
//! clock again. A failing case is saved in `tests/proptest-regressions/` and
//! replayed first on every later run.
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use proptest::{prop_assert, prop_assert_eq};
use serde_json::json;

use crate::support::{TestApp, start_time};

pub mod catalog;
mod compare;
mod holds;
mod lots;
mod ops;
mod plans;
mod rules;

use compare::{bind, check_all, check_event, check_hold, check_outcome, lot_fields, observe, subscription_fields};
use holds::HoldStatus;
use ops::{Amount, Op, RefundAmount};
use rules::{KeyKind, Model, Success};

/// Steps between two full checks (every account, ledger, usage).
const CHECK_EVERY: usize = 5;

/// The id the server gave a model object; every object an operation picks
/// was made by a success, which taught the model its id.
fn real_id(id: &Option<String>) -> serde_json::Value {
    json!(id.as_deref().expect("an id learned from the server"))
}

/// Which of `count` holds, events or keys an operation acts on; with none
/// to act on, the operation is a step that does nothing.
fn chosen(pick: Index, count: usize) -> Option<usize> {
    (count > 0).then(|| pick.index(count))
}

/// Runs one operation on both sides and compares; `step` makes keys unique.
async fn run_op(app: &TestApp, model: &mut Model, op: &Op, step: usize, context: &str) -> Result<(), TestCaseError> {
    let name = |a: usize| model.accounts[a].name.clone();
    let (a, payload, expected) = match op.clone() {
        Op::Advance(clock_step) => {
            let by = model.duration(clock_step);
            model.now += by;
            app.advance(by);
            return Ok(());
        }
        Op::Consume { account, generation } => {
            let key = format!("use-{step}");
            let payload = app.consume(&name(account), generation.input(), &key).await;
            (account, payload, model.consume(account, &key, &generation))
        }
        Op::Reserve { account, generation, ttl_seconds } => {
            let key = format!("hold-{step}");
            let payload = app.reserve(&name(account), generation.input(), &key, ttl_seconds).await;
            (account, payload, model.reserve(account, &key, &generation, ttl_seconds))
        }
        Op::Capture { account, hold, amount } => {
            let holds = &model.accounts[account].holds;
            let Some(h) = chosen(hold, holds.len()) else { return Ok(()) };
            let held = holds[h].credits;
            let credits = match amount {
                Amount::All => None,
                Amount::Held => Some(held),
                Amount::Less(part) => Some(part.index(held.max(1) as usize) as i64),
                Amount::More => Some(held + 1),
            };
            let payload = app.capture(&real_id(&holds[h].real_id), credits).await;
            (account, payload, model.capture(account, h, credits))
        }
        Op::Release { account, hold } => {
            let holds = &model.accounts[account].holds;
            let Some(h) = chosen(hold, holds.len()) else { return Ok(()) };
            let payload = app.release(&real_id(&holds[h].real_id)).await;
            (account, payload, model.release(account, h))
        }
        Op::Refund { account, event, amount, cause } => {
            let events = &model.accounts[account].events;
            let Some(e) = chosen(event, events.len()) else { return Ok(()) };
            let left = events[e].credits - events[e].refunded;
            let credits = match amount {
                RefundAmount::Left => None,
                RefundAmount::Part(part) => Some(1 + part.index(left.max(1) as usize) as i64),
                RefundAmount::More => Some(left + 1),
            };
            let input = json!({ "cause": cause, "credits": credits });
            let payload = app.refund_with(&real_id(&events[e].real_id), input).await;
            (account, payload, model.refund(account, e, credits))
        }
        Op::Retry { account, other_account, pick, other_input } => {
            let from = if other_account { (account + 1) % model.accounts.len() } else { account };
            let keys = &model.accounts[from].keys;
            let Some(k) = chosen(pick, keys.len()) else { return Ok(()) };
            let first = keys[k].clone();
            let generation = if other_input { first.generation.other() } else { first.generation };
            let payload = match first.kind {
                KeyKind::Charge => app.consume(&name(account), generation.input(), &first.key).await,
                KeyKind::Hold => app.reserve(&name(account), generation.input(), &first.key, first.ttl_seconds).await,
            };
            let expected = match first.kind {
                KeyKind::Charge => model.consume(account, &first.key, &generation),
                KeyKind::Hold => model.reserve(account, &first.key, &generation, first.ttl_seconds),
            };
            (account, payload, expected)
        }
        Op::Subscribe { account, plan } => {
            let payload = app.subscribe(&name(account), plan, &format!("pay-{step}")).await;
            (account, payload, model.subscribe(account, plan))
        }
        Op::Cancel { account, at_period_end } => {
            (account, app.cancel(&name(account), at_period_end).await, model.cancel(account, at_period_end))
        }
        Op::Purchase { account, pack } => {
            let (reference, key) = (format!("pay-{step}"), format!("buy-{step}"));
            let payload = app.purchase(&name(account), pack, &reference, &key).await;
            (account, payload, model.purchase(account, pack))
        }
        Op::Grant { account, credits, expiry, pro_eligible } => {
            let expires_at = model.expiry(account, expiry);
            let input = json!({ "credits": credits, "expiresAt": expires_at.map(lots::time), "proEligible": pro_eligible,
                                "reason": "model test", "idempotencyKey": format!("grant-{step}") });
            let payload = app.grant(&name(account), input).await;
            (account, payload, model.grant(account, credits, expires_at, pro_eligible))
        }
    };
    check_outcome(model, a, &payload, &expected, context)?;
    match expected {
        Ok(Success::Subscription) => {
            let subscription = subscription_fields(&payload["subscription"]);
            prop_assert_eq!(subscription, model.subscription(a), "subscription: {}", context);
        }
        Ok(Success::Lot(seq)) => {
            prop_assert_eq!(lot_fields(&payload["lot"]), model.lot(a, seq).expected(), "lot: {}", context);
            bind(model, a, seq, &payload["lot"]["id"])?;
        }
        Ok(Success::Event(e)) => check_event(model, a, e, &payload["usageEvent"], context)?,
        Ok(Success::Hold(h)) => {
            check_hold(model, a, h, &payload["reservation"], context)?;
            if let HoldStatus::Captured(e) = model.accounts[a].holds[h].status {
                prop_assert!(model.accounts[a].events[e].real_id.is_some(), "{}", context);
            }
        }
        Ok(Success::Refunded { event, credits }) => {
            prop_assert_eq!(&payload["refundedCredits"], &json!(credits), "refunded: {}", context);
            check_event(model, a, event, &payload["usageEvent"], context)?;
        }
        Err(_) => {}
    }
    observe(app, model, a, context).await
}

/// One case on the shared server: accounts of its own, the clock from the start.
async fn run_case(app: &TestApp, case: usize, accounts: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    app.clock.set(start_time());
    let mut model = Model::new((0..accounts).map(|a| format!("model-{case}-{a}")).collect());
    for (step, op) in ops.iter().enumerate() {
        let context = format!("step {step} {op:?} at {}", lots::time(model.now));
        run_op(app, &mut model, op, step, &context).await?;
        if step % CHECK_EVERY == CHECK_EVERY - 1 {
            check_all(app, &mut model, &context).await?;
        }
    }
    check_all(app, &mut model, "the end").await
}

fn config() -> Config {
    let cases = std::env::var("MODEL_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(16);
    let regressions = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/proptest-regressions/model.txt");
    Config {
        cases,
        max_shrink_iters: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..Config::default()
    }
}

/// One server for all cases: a fresh database per case would cost more
/// than the case itself on PostgreSQL (a schema and its migrations).
#[test]
fn the_server_follows_the_rules_of_money() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = runtime.block_on(TestApp::start());
    let cases = AtomicUsize::new(0);
    let result = TestRunner::new(config()).run(&ops::case(), |(accounts, ops)| {
        let case = cases.fetch_add(1, Ordering::Relaxed);
        runtime.block_on(run_case(&app, case, accounts, &ops))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
