//! What the demo accounts do, drawn at random but reproducibly from a seed:
//! who pays, how busy each account is, when things happen, and which
//! generations are asked for. Nothing here touches the database.
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::domain::catalog::{Catalog, PriceUnit, StudioKind, Tool};
use crate::domain::pricing::GenerationRequest;
use crate::error::{Error, Result};

/// Share of accounts that subscribe to a paid plan at some point.
const PAID_SHARE: f64 = 0.55;
/// Studios in `StudioKind::ALL` order: images dominate, as on real platforms.
const STUDIO_WEIGHTS: [u32; 5] = [45, 15, 15, 12, 13];

/// One account's part of the run, drawn up front from the run's seed so that
/// the data does not depend on which worker fills which account.
pub struct Profile {
    pub id: String,
    paid: bool,
    events: u64,
    pub seed: u64,
}

pub fn account_id(number: u64) -> String {
    format!("{}{number:04}", super::PREFIX)
}

/// Who is paid and how busy each account is: a heavy tail, as in real usage,
/// with subscribers busier than free accounts.
pub fn profiles(seed: u64, first: u64, accounts: u32, events: u64) -> Vec<Profile> {
    let mut rng = StdRng::seed_from_u64(seed);
    let drafts: Vec<(bool, f64, u64)> = (0..accounts)
        .map(|_| {
            let paid = rng.random_bool(PAID_SHARE);
            let busy = (1.0 / rng.random_range(0.01..1.0f64)).powf(0.8) * if paid { 2.5 } else { 1.0 };
            (paid, busy, rng.random())
        })
        .collect();
    let total: f64 = drafts.iter().map(|(_, busy, _)| busy).sum();
    let mut shares: Vec<u64> = drafts.iter().map(|(_, busy, _)| (events as f64 * busy / total) as u64).collect();
    // Rounding down leaves a few events over: one more each for the first accounts.
    let left = events.saturating_sub(shares.iter().sum::<u64>());
    shares.iter_mut().take(left as usize).for_each(|n| *n += 1);
    let numbered = drafts.into_iter().zip(shares).zip(first..);
    numbered.map(|(((paid, _, seed), events), n)| Profile { id: account_id(n), paid, events, seed }).collect()
}

#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// First visit: the account is created and gets its daily free credits.
    Join,
    Subscribe,
    ChangePlan,
    /// At period end (true) or at once.
    Cancel(bool),
    Promo,
    BuyTokens,
    Generate,
}

/// An account's planned operations, in time order.
pub fn timeline(
    rng: &mut StdRng,
    profile: &Profile,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Op)> {
    // Most accounts joined early enough to have a history; a few are new.
    let latest = between(rng, start, end);
    let joined = between(rng, start, latest);
    let mut ops = vec![(joined, Op::Join)];
    ops.extend((0..profile.events).map(|_| (between(rng, joined, end), Op::Generate)));
    if profile.paid {
        let subscribed = between(rng, joined, end.min(joined + Duration::days(21)));
        ops.push((subscribed, Op::Subscribe));
        if rng.random_bool(0.25) {
            ops.push((between(rng, subscribed, end), Op::ChangePlan));
        }
        if rng.random_bool(0.2) {
            ops.push((between(rng, subscribed, end), Op::Cancel(rng.random_bool(0.7))));
        }
        // Top-ups bought ahead of need; more are bought when credits run short.
        let purchases = if rng.random_bool(0.4) { rng.random_range(1..=3) } else { 0 };
        ops.extend((0..purchases).map(|_| (between(rng, subscribed, end), Op::BuyTokens)));
    }
    if rng.random_bool(0.05) {
        ops.push((between(rng, joined, end), Op::Promo));
    }
    // Stable: joining and subscribing stay first when drawn at the same instant.
    ops.sort_by_key(|(at, _)| *at);
    ops
}

fn between(rng: &mut StdRng, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    from + Duration::milliseconds(rng.random_range(0..=(to - from).num_milliseconds().max(0)))
}

/// A generation an account with (or without) Pro access could ask for, drawn
/// from the catalog so that a changed catalog still gets valid requests.
pub fn generation<'c>(rng: &mut StdRng, catalog: &'c Catalog, pro: bool) -> Result<GenerationRequest> {
    let models = |tool: &'c Tool| -> Vec<(&'c str, bool)> {
        let pro_of = |id: &str| catalog.model(id).is_some_and(|model| model.pro);
        let all = tool.model_prices_millicredits.iter().map(|(id, _)| (id.as_str(), pro_of(id)));
        all.filter(|(_, is_pro)| pro || !is_pro).collect()
    };
    let usable = |tool: &&'c Tool| !tool.priced_per_model() || !models(tool).is_empty();
    let studio = *StudioKind::ALL.choose_weighted(rng, |k| STUDIO_WEIGHTS[*k as usize]).unwrap_or(&StudioKind::Image);
    let in_studio: Vec<&Tool> = catalog.tools.iter().filter(|t| t.studio == studio).filter(usable).collect();
    let candidates = if in_studio.is_empty() { catalog.tools.iter().filter(usable).collect() } else { in_studio };
    // Generating with a model is the main use; utilities (upscale, ...) follow.
    let tool = *candidates
        .choose_weighted(rng, |tool| if tool.priced_per_model() { 3 } else { 1 })
        .map_err(|_| Error::internal("the catalog has no tool a free account may use"))?;
    let choices = models(tool);
    // Subscribers pick a Pro model about a third of the time when there is one.
    let wants_pro = rng.random_bool(0.35);
    let preferred: Vec<&str> = choices.iter().filter(|(_, p)| *p == wants_pro).map(|(id, _)| *id).collect();
    let model_id = preferred.choose(rng).copied().or_else(|| choices.choose(rng).map(|(id, _)| *id)).map(String::from);
    let seconds = match tool.studio {
        StudioKind::Video => *[5, 5, 8, 10, 10, 15].choose(rng).unwrap_or(&5),
        StudioKind::Music => rng.random_range(15..=180),
        _ => rng.random_range(5..=90),
    };
    let (count, duration_seconds, characters) = match tool.unit {
        PriceUnit::Output => (if rng.random_bool(0.6) { 1 } else { rng.random_range(2..=4) }, None, None),
        PriceUnit::Second => (1, Some(seconds), None),
        PriceUnit::ThousandCharacters => (1, None, Some(rng.random_range(120..=4_000))),
    };
    // Most people keep the defaults; some raise resolution or quality.
    let options = catalog
        .studio_options(tool.studio)
        .filter_map(|option| {
            let value = option.values.choose(rng).filter(|_| rng.random_bool(0.4))?;
            Some((option.name.clone(), value.value.clone()))
        })
        .collect();
    Ok(GenerationRequest { tool: tool.code.clone(), model_id, count, duration_seconds, characters, options })
}
