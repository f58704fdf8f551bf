//! The catalog and plans as the rules see them: loaded once from the database
//! into memory, so pricing a generation touches no table.
use std::collections::HashMap;

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
    /// Thousandths of a credit per unit when the tool runs without a model.
    pub tool_price_millicredits: Option<i64>,
    /// Thousandths of a credit per unit for each model it runs with.
    pub model_prices_millicredits: Vec<(String, i64)>,
}

impl Tool {
    pub fn priced_per_model(&self) -> bool {
        !self.model_prices_millicredits.is_empty()
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

/// Everything a price or an entitlement depends on, in catalog order.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub studios: Vec<Studio>,
    pub tools: Vec<Tool>,
    pub models: Vec<Model>,
    pub options: Vec<GenerationOption>,
    pub plans: Vec<Plan>,
    pub token_packs: Vec<TokenPack>,
    tool_index: HashMap<String, usize>,
    model_index: HashMap<String, usize>,
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
        for model in &mut models {
            model.tools = tools
                .iter()
                .filter(|tool| tool.model_price(&model.id).is_some())
                .map(|tool| tool.code.clone())
                .collect();
        }
        let tool_index = tools.iter().enumerate().map(|(i, t)| (t.code.clone(), i)).collect();
        let model_index = models.iter().enumerate().map(|(i, m)| (m.id.clone(), i)).collect();
        Catalog { studios, tools, models, options, plans, token_packs, tool_index, model_index }
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

    pub fn token_pack(&self, id: &str) -> Option<&TokenPack> {
        self.token_packs.iter().find(|pack| pack.id == id)
    }

    pub fn studio_options(&self, studio: StudioKind) -> impl Iterator<Item = &GenerationOption> {
        self.options.iter().filter(move |option| option.studio == studio)
    }
}
