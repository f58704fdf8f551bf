//! The default catalog and plans, as written in `seed/catalog.toml`.
use serde::Deserialize;

/// The seed file, compiled in so that a fresh binary needs nothing beside it.
pub const CATALOG_TOML: &str = include_str!("../seed/catalog.toml");

#[derive(Debug, Deserialize)]
pub struct Seed {
    pub plans: Vec<Plan>,
    pub token_packs: Vec<TokenPack>,
    pub studios: Vec<Studio>,
}

#[derive(Debug, Deserialize)]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub price_cents: i64,
    pub monthly_credits: i64,
    pub pro_access: bool,
    pub can_buy_tokens: bool,
    /// Percent of the unused allowance carried into the next period.
    #[serde(default)]
    pub rollover_percent: i64,
    /// At most this many credits carried; none: no cap.
    #[serde(default)]
    pub rollover_cap: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct TokenPack {
    pub id: String,
    pub tokens: i64,
    pub price_cents: i64,
}

#[derive(Debug, Deserialize)]
pub struct Studio {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub models: Vec<Model>,
    pub tools: Vec<Tool>,
    #[serde(default)]
    pub options: Vec<OptionValues>,
}

#[derive(Debug, Deserialize)]
pub struct Model {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub pro: bool,
}

#[derive(Debug, Deserialize)]
pub struct Tool {
    pub code: String,
    pub name: String,
    pub unit: String,
    /// Credits per unit at tool level, for tools that run without a model.
    pub credits_per_unit: Option<f64>,
    /// Credits per unit for each model the tool runs with.
    #[serde(default)]
    pub models: std::collections::BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
pub struct OptionValues {
    pub name: String,
    pub default: String,
    /// Value name to price multiplier.
    pub values: std::collections::BTreeMap<String, f64>,
}

/// Turns a decimal written in the seed file into thousandths, exactly for the
/// three decimals the file may use.
pub fn thousandths(value: f64) -> i64 {
    (value * 1000.0).round() as i64
}

pub fn parse() -> Result<Seed, toml::de::Error> {
    toml::from_str(CATALOG_TOML)
}
