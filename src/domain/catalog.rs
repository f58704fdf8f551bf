//! The catalog and plans as the rules see them: one immutable version,
//! held in memory, so pricing a generation touches no table. A change makes
//! a new version (`changes.rs`) from the version's TOML document
//! (`document.rs`); retired entries stay in it, for history, but are no
//! longer offered.
use std::collections::{HashMap, HashSet};

use super::error::DomainError;

mod changes;
mod document;

pub use changes::{CatalogChange, OptionMultiplierInput, PriceInput, ToolInput};
pub use document::{CatalogDiff, Document, diff, instant_ms, parse as parse_document, print as print_document};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StudioKind {
    Image,
    Video,
    Sketch,
    Music,
    Voice,
}

impl StudioKind {
    pub const ALL: [StudioKind; 5] =
        [StudioKind::Image, StudioKind::Video, StudioKind::Sketch, StudioKind::Music, StudioKind::Voice];

    pub fn as_str(self) -> &'static str {
        match self {
            StudioKind::Image => "IMAGE",
            StudioKind::Video => "VIDEO",
            StudioKind::Sketch => "SKETCH",
            StudioKind::Music => "MUSIC",
            StudioKind::Voice => "VOICE",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        StudioKind::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceUnit {
    Output,
    Second,
    ThousandCharacters,
}

impl PriceUnit {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "OUTPUT" => Some(PriceUnit::Output),
            "SECOND" => Some(PriceUnit::Second),
            "THOUSAND_CHARACTERS" => Some(PriceUnit::ThousandCharacters),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Studio {
    pub kind: StudioKind,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct Tool {
    pub code: String,
    pub name: String,
    pub studio: StudioKind,
    pub unit: PriceUnit,
    /// Whether a generation with it names a model (and is priced per model).
    pub requires_model: bool,
    /// Thousandths of a credit per unit when the tool runs without a model.
    pub tool_price_millicredits: Option<i64>,
    /// Thousandths of a credit per unit for each model it runs with.
    pub model_prices_millicredits: Vec<(String, i64)>,
}

impl Tool {
    pub fn priced_per_model(&self) -> bool {
        self.requires_model
    }

    pub fn model_price(&self, model_id: &str) -> Option<i64> {
        self.model_prices_millicredits.iter().find(|(id, _)| id == model_id).map(|(_, price)| *price)
    }
}

#[derive(Clone, Debug)]
pub struct Model {
    pub id: String,
    pub name: String,
    pub studio: StudioKind,
    pub pro: bool,
    /// Codes of the tools it runs with.
    pub tools: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct OptionValue {
    pub value: String,
    /// 1000 = x1.0.
    pub multiplier_permille: i64,
    pub is_default: bool,
}

#[derive(Clone, Debug)]
pub struct GenerationOption {
    pub studio: StudioKind,
    pub name: String,
    pub values: Vec<OptionValue>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub price_cents: i64,
    pub monthly_credits: i64,
    pub pro_access: bool,
    pub can_buy_tokens: bool,
    /// Percent of the allowance left unused at renewal carried into the
    /// next period (`domain::carry_over`).
    pub rollover_percent: i64,
    /// At most this many credits carried; none: no cap.
    pub rollover_cap: Option<i64>,
}

impl Plan {
    pub const FREE: &'static str = "FREE";

    pub fn is_free(&self) -> bool {
        self.code == Plan::FREE
    }
}

#[derive(Clone, Debug)]
pub struct TokenPack {
    pub id: String,
    pub tokens: i64,
    pub price_cents: i64,
}

/// What an admin adds, changes and retires (`retire { kind, id }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CatalogKind {
    Tool,
    Model,
    Plan,
    TokenPack,
}

impl CatalogKind {
    pub const ALL: [CatalogKind; 4] =
        [CatalogKind::Tool, CatalogKind::Model, CatalogKind::Plan, CatalogKind::TokenPack];

    fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CatalogKind::Tool => "tool",
            CatalogKind::Model => "model",
            CatalogKind::Plan => "plan",
            CatalogKind::TokenPack => "token pack",
        }
    }
}

/// A price taking effect at an instant, for one tool (and model).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledPrice {
    pub effective_at_ms: i64,
    pub millicredits: i64,
}

/// Everything a price or an entitlement depends on, in catalog order.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// The catalog's version: 1 is the seed, each change adds one.
    pub version: i64,
    pub studios: Vec<Studio>,
    pub tools: Vec<Tool>,
    pub models: Vec<Model>,
    pub options: Vec<GenerationOption>,
    pub plans: Vec<Plan>,
    pub token_packs: Vec<TokenPack>,
    tool_index: HashMap<String, usize>,
    model_index: HashMap<String, usize>,
    /// Retired ids, by `CatalogKind` (its index in `CatalogKind::ALL`).
    retired: [HashSet<String>; 4],
    /// Later prices by tool code: `(model, price)`, by instant.
    scheduled: HashMap<String, Vec<(Option<String>, ScheduledPrice)>>,
    /// The TOML document this version was read from.
    document: std::sync::Arc<Document>,
}

impl Catalog {
    pub fn new(
        studios: Vec<Studio>,
        tools: Vec<Tool>,
        mut models: Vec<Model>,
        options: Vec<GenerationOption>,
        plans: Vec<Plan>,
        token_packs: Vec<TokenPack>,
    ) -> Self {
        for model in models.iter_mut().filter(|model| model.tools.is_empty()) {
            model.tools = tools
                .iter()
                .filter(|tool| tool.model_price(&model.id).is_some())
                .map(|tool| tool.code.clone())
                .collect();
        }
        let tool_index = tools.iter().enumerate().map(|(i, t)| (t.code.clone(), i)).collect();
        let model_index = models.iter().enumerate().map(|(i, m)| (m.id.clone(), i)).collect();
        Catalog {
            version: 1,
            studios,
            tools,
            models,
            options,
            plans,
            token_packs,
            tool_index,
            model_index,
            retired: Default::default(),
            scheduled: HashMap::new(),
            document: Default::default(),
        }
    }

    /// This catalog as version `version`, with what is retired and the
    /// prices scheduled for later (each list in order of its instants).
    pub fn with_history(
        mut self,
        version: i64,
        retired: [HashSet<String>; 4],
        scheduled: HashMap<String, Vec<(Option<String>, ScheduledPrice)>>,
    ) -> Self {
        self.version = version;
        self.retired = retired;
        self.scheduled = scheduled;
        self
    }

    pub fn is_retired(&self, kind: CatalogKind, id: &str) -> bool {
        self.retired[kind.index()].contains(id)
    }

    /// Thousandths of a credit per unit of `tool` (with `model_id`) in
    /// effect at `now_ms`: the latest scheduled price already in effect, or
    /// the base price.
    pub fn unit_price(&self, tool: &Tool, model_id: Option<&str>, now_ms: i64) -> Option<i64> {
        if let Some(prices) = self.scheduled.get(tool.code.as_str())
            && let Some((_, price)) = prices
                .iter()
                .rev()
                .find(|(model, price)| model.as_deref() == model_id && price.effective_at_ms <= now_ms)
        {
            return Some(price.millicredits);
        }
        match model_id {
            Some(model_id) => tool.model_price(model_id),
            None => tool.tool_price_millicredits,
        }
    }

    /// The prices of `tool` that take effect later than its base prices,
    /// as `(model, price)` in order of their instants.
    pub fn scheduled_prices(&self, tool: &str) -> &[(Option<String>, ScheduledPrice)] {
        self.scheduled.get(tool).map_or(&[], Vec::as_slice)
    }

    pub fn tool(&self, code: &str) -> Option<&Tool> {
        self.tool_index.get(code).map(|&i| &self.tools[i])
    }

    pub fn model(&self, id: &str) -> Option<&Model> {
        self.model_index.get(id).map(|&i| &self.models[i])
    }

    pub fn plan(&self, code: &str) -> Option<&Plan> {
        self.plans.iter().find(|plan| plan.code == code)
    }

    /// The plan of an account without an active subscription.
    pub fn free_plan(&self) -> &Plan {
        static FREE: std::sync::OnceLock<Plan> = std::sync::OnceLock::new();
        self.plan(Plan::FREE).unwrap_or_else(|| {
            FREE.get_or_init(|| Plan {
                code: Plan::FREE.into(),
                name: "Free".into(),
                price_cents: 0,
                monthly_credits: 0,
                pro_access: false,
                can_buy_tokens: false,
                rollover_percent: 0,
                rollover_cap: None,
            })
        })
    }

    /// A plan that takes new subscriptions.
    pub fn offered_plan(&self, code: &str) -> Result<&Plan, DomainError> {
        let plan = self.plan(code).ok_or_else(|| DomainError::UnknownPlan { code: code.into() })?;
        if self.is_retired(CatalogKind::Plan, code) {
            let message = format!("plan {code} was retired: it takes no new subscriptions");
            return Err(DomainError::Unavailable { kind: CatalogKind::Plan, message });
        }
        Ok(plan)
    }

    /// A token pack that is on sale.
    pub fn offered_pack(&self, id: &str) -> Result<&TokenPack, DomainError> {
        let pack = self.token_pack(id).ok_or_else(|| DomainError::UnknownPack { id: id.into() })?;
        if self.is_retired(CatalogKind::TokenPack, id) {
            let message = format!("token pack {id} was retired from sale");
            return Err(DomainError::Unavailable { kind: CatalogKind::TokenPack, message });
        }
        Ok(pack)
    }

    pub fn token_pack(&self, id: &str) -> Option<&TokenPack> {
        self.token_packs.iter().find(|pack| pack.id == id)
    }

    pub fn studio_options(&self, studio: StudioKind) -> impl Iterator<Item = &GenerationOption> {
        self.options.iter().filter(move |option| option.studio == studio)
    }
}

#[cfg(test)]
mod tests;
