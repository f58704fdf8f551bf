//! The catalog and plans as TOML: the default in `seed/catalog.toml` (the
//! catalog's version 1), and the format `credits catalog export` prints and
//! `credits catalog import` reads. Every key after the seed's first form is
//! optional, so the seed file stays valid as it is.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The seed file, compiled in so that a fresh binary needs nothing beside it.
pub const CATALOG_TOML: &str = include_str!("../seed/catalog.toml");

fn is_false(value: &bool) -> bool {
    !*value
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    pub plans: Vec<Plan>,
    pub token_packs: Vec<TokenPack>,
    pub studios: Vec<Studio>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub price_cents: i64,
    pub monthly_credits: i64,
    pub pro_access: bool,
    pub can_buy_tokens: bool,
    /// Takes no new subscriptions; existing ones renew until cancelled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retired: bool,
    /// Percent of the unused allowance carried into the next period.
    #[serde(default)]
    pub rollover_percent: i64,
    /// At most this many credits carried; none: no cap.
    #[serde(default)]
    pub rollover_cap: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPack {
    pub id: String,
    pub tokens: i64,
    pub price_cents: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub retired: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Studio {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub models: Vec<Model>,
    #[serde(default)]
    pub options: Vec<OptionValues>,
    #[serde(default)]
    pub tools: Vec<Tool>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub pro: bool,
    /// Codes of the tools it runs with; absent: the tools that price it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub retired: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub code: String,
    pub name: String,
    pub unit: String,
    /// Whether a generation names a model; absent: whether `models` prices any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_model: Option<bool>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub retired: bool,
    /// Credits per unit at tool level, for tools that run without a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits_per_unit: Option<f64>,
    /// Prices that take effect later, each from its instant on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scheduled: Vec<ScheduledPrice>,
    /// Credits per unit for each model the tool runs with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledPrice {
    /// The model priced; absent for the tool-level price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub credits_per_unit: f64,
    /// RFC 3339, e.g. `2026-12-08T00:00:00Z`.
    pub effective_at: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptionValues {
    pub name: String,
    pub default: String,
    /// Value name to price multiplier.
    pub values: BTreeMap<String, f64>,
}

/// Turns a decimal written in the file into thousandths, exactly for the
/// three decimals the file may use.
pub fn thousandths(value: f64) -> i64 {
    (value * 1000.0).round() as i64
}

/// Whether `value` has at most three decimals (so [`thousandths`] is exact).
pub fn is_whole_thousandths(value: f64) -> bool {
    value.is_finite() && (value * 1000.0 - (value * 1000.0).round()).abs() < 1e-6
}

pub fn parse() -> Result<Seed, toml::de::Error> {
    toml::from_str(CATALOG_TOML)
}
