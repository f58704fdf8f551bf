//! The public catalog: plans, token packs, studios with their tools, models,
//! prices (those in effect now) and options, retired entries left out.
//! Served from memory; anyone may read it.
use async_graphql::{ComplexObject, Context, Enum, ID, Object, SimpleObject};

use chrono::{DateTime, Utc};

use super::context::{GraphqlResult, now, store};
use crate::domain::catalog::{self, Catalog, CatalogKind, PriceUnit as DomainUnit, StudioKind as DomainKind};

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainKind")]
pub enum StudioKind {
    Image,
    Video,
    Sketch,
    Music,
    Voice,
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainUnit")]
pub enum PriceUnit {
    Output,
    Second,
    ThousandCharacters,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub price_cents: i64,
    pub monthly_credits: i64,
    pub pro_access: bool,
    pub can_buy_tokens: bool,
    /// Percent of the allowance left unused when a period renews that is
    /// carried into the next one, as a ROLLOVER lot.
    pub rollover_percent: i64,
    /// At most this many credits are carried; null: no cap.
    pub rollover_cap: Option<i64>,
}

impl From<&catalog::Plan> for Plan {
    fn from(plan: &catalog::Plan) -> Self {
        Plan {
            code: plan.code.clone(),
            name: plan.name.clone(),
            price_cents: plan.price_cents,
            monthly_credits: plan.monthly_credits,
            pro_access: plan.pro_access,
            can_buy_tokens: plan.can_buy_tokens,
            rollover_percent: plan.rollover_percent,
            rollover_cap: plan.rollover_cap,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct TokenPack {
    pub id: ID,
    pub tokens: i64,
    pub price_cents: i64,
}

impl From<&crate::domain::catalog::TokenPack> for TokenPack {
    fn from(pack: &crate::domain::catalog::TokenPack) -> Self {
        TokenPack { id: ID(pack.id.clone()), tokens: pack.tokens, price_cents: pack.price_cents }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Model {
    pub id: ID,
    pub name: String,
    pub studio: StudioKind,
    pub pro: bool,
    /// Codes of the tools it runs with.
    pub tools: Vec<String>,
}

impl From<&catalog::Model> for Model {
    fn from(model: &catalog::Model) -> Self {
        Model {
            id: ID(model.id.clone()),
            name: model.name.clone(),
            studio: model.studio.into(),
            pro: model.pro,
            tools: model.tools.clone(),
        }
    }
}

/// The price of one unit of a tool, with a model or at tool level.
#[derive(SimpleObject, Clone, Debug)]
pub struct ToolPrice {
    /// The model priced, or null for a tool that runs without one.
    pub model_id: Option<ID>,
    /// Credits per unit, for display (0.5 = half a credit per second).
    pub credits_per_unit: f64,
    /// The exact price: thousandths of a credit per unit.
    pub millicredits_per_unit: i64,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Tool {
    pub code: String,
    pub name: String,
    pub studio: StudioKind,
    pub unit: PriceUnit,
    /// Whether a generation with this tool names a model.
    pub requires_model: bool,
    #[graphql(skip)]
    prices_millicredits: Vec<(Option<String>, i64)>,
}

#[ComplexObject]
impl Tool {
    async fn prices(&self) -> Vec<ToolPrice> {
        self.prices_millicredits
            .iter()
            .map(|(model, millicredits)| ToolPrice {
                model_id: model.clone().map(ID),
                credits_per_unit: *millicredits as f64 / 1000.0,
                millicredits_per_unit: *millicredits,
            })
            .collect()
    }
}

impl Tool {
    /// `tool` with the prices of `catalog` in effect at `now` (of models still offered).
    pub fn priced(catalog: &Catalog, tool: &catalog::Tool, now: DateTime<Utc>) -> Self {
        let now_ms = now.timestamp_millis();
        let models = tool.model_prices_millicredits.iter().map(|(model, _)| Some(model.as_str()));
        let keys = if tool.requires_model { models.collect() } else { vec![None] };
        let prices_millicredits = keys
            .into_iter()
            .filter(|model| model.is_none_or(|id| !catalog.is_retired(CatalogKind::Model, id)))
            .filter_map(|model| catalog.unit_price(tool, model, now_ms).map(|price| (model.map(str::to_owned), price)))
            .collect();
        Tool {
            code: tool.code.clone(),
            name: tool.name.clone(),
            studio: tool.studio.into(),
            unit: tool.unit.into(),
            requires_model: tool.priced_per_model(),
            prices_millicredits,
        }
    }
}

/// An option of a studio's generations and what each value does to the price.
#[derive(SimpleObject, Clone, Debug)]
pub struct GenerationOption {
    pub name: String,
    pub default_value: Option<String>,
    pub values: Vec<GenerationOptionValue>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct GenerationOptionValue {
    pub value: String,
    /// The price multiplier, for display (1.5 = 50% more).
    pub multiplier: f64,
}

pub struct Studio {
    kind: DomainKind,
    name: String,
}

#[Object]
impl Studio {
    async fn kind(&self) -> StudioKind {
        self.kind.into()
    }

    async fn name(&self) -> &str {
        &self.name
    }

    async fn tools(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<Tool>> {
        let (catalog, now) = (store(ctx)?.catalog(), now(ctx)?);
        let offered = catalog.tools.iter().filter(|t| !catalog.is_retired(CatalogKind::Tool, &t.code));
        Ok(offered.filter(|t| t.studio == self.kind).map(|tool| Tool::priced(&catalog, tool, now)).collect())
    }

    async fn models(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<Model>> {
        let catalog = store(ctx)?.catalog();
        Ok(offered_models(&catalog).filter(|m| m.studio == self.kind).map(Model::from).collect())
    }

    async fn options(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<GenerationOption>> {
        let catalog = store(ctx)?.catalog();
        Ok(catalog
            .studio_options(self.kind)
            .map(|option| GenerationOption {
                name: option.name.clone(),
                default_value: option.values.iter().find(|v| v.is_default).map(|v| v.value.clone()),
                values: option
                    .values
                    .iter()
                    .map(|v| GenerationOptionValue {
                        value: v.value.clone(),
                        multiplier: v.multiplier_permille as f64 / 1000.0,
                    })
                    .collect(),
            })
            .collect())
    }
}

fn offered_models(catalog: &Catalog) -> impl Iterator<Item = &catalog::Model> {
    catalog.models.iter().filter(|m| !catalog.is_retired(CatalogKind::Model, &m.id))
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Every plan, Free first.
    async fn plans(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<Plan>> {
        let catalog = store(ctx)?.catalog();
        Ok(catalog.plans.iter().filter(|p| !catalog.is_retired(CatalogKind::Plan, &p.code)).map(Plan::from).collect())
    }

    /// The catalog: studios with their tools (and prices), models and options.
    async fn studios(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<Studio>> {
        Ok(store(ctx)?
            .catalog()
            .studios
            .iter()
            .map(|studio| Studio { kind: studio.kind, name: studio.name.clone() })
            .collect())
    }

    /// Models, optionally of one studio and/or only Pro (or only standard) ones.
    async fn models(
        &self,
        ctx: &Context<'_>,
        studio: Option<StudioKind>,
        pro: Option<bool>,
    ) -> GraphqlResult<Vec<Model>> {
        let studio = studio.map(DomainKind::from);
        let catalog = store(ctx)?.catalog();
        Ok(offered_models(&catalog)
            .filter(|m| studio.is_none_or(|s| m.studio == s) && pro.is_none_or(|p| m.pro == p))
            .map(Model::from)
            .collect())
    }

    /// Token top-ups subscribers can buy.
    async fn token_packs(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<TokenPack>> {
        let catalog = store(ctx)?.catalog();
        let offered = catalog.token_packs.iter().filter(|p| !catalog.is_retired(CatalogKind::TokenPack, &p.id));
        Ok(offered.map(TokenPack::from).collect())
    }
}
