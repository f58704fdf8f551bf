//! Admins change the catalog and plans live: each mutation makes one new
//! catalog version (`store/catalog.rs`), audited in `catalogChanges`; any
//! version can be read back with `catalog(version:)`.
use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::catalog::{Model, Plan, PriceUnit, StudioKind, TokenPack, Tool};
use super::context::{GraphqlResult, authenticated, now, require_admin, store};
use super::errors::{UserError, graphql_error, payload, payloads};
use super::pagination::{Cursors, PageArgs, page};
use crate::domain::catalog::{self, CatalogChange, CatalogKind as Kind, OptionMultiplierInput, PriceInput, ToolInput};
use crate::store::catalog::CatalogChangeEntry;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "Kind")]
pub enum CatalogKind {
    Tool,
    Model,
    Plan,
    TokenPack,
}

#[derive(InputObject)]
pub struct UpsertToolInput {
    pub code: String,
    pub name: String,
    pub studio: StudioKind,
    pub unit: PriceUnit,
    /// Whether a generation with it names a model (and it is priced per model).
    pub requires_model: bool,
}

#[derive(InputObject)]
pub struct UpsertModelInput {
    pub id: ID,
    pub name: String,
    pub studio: StudioKind,
    pub pro: bool,
    /// Codes of the tools it runs with (tools of its studio priced per model).
    pub tools: Vec<String>,
}

#[derive(InputObject)]
pub struct SetPriceInput {
    pub tool: String,
    /// For a tool priced per model: the model (which runs the tool).
    pub model_id: Option<ID>,
    /// Thousandths of a credit per unit, more than 0.
    pub millicredits_per_unit: i64,
    /// When it takes effect; absent or past: at once.
    pub effective_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct UpsertOptionMultiplierInput {
    pub studio: StudioKind,
    /// The option (`resolution`); a new one is added with this value as default.
    pub name: String,
    pub value: String,
    /// 1000 = x1.0; from 1 (x0.001) to 100000 (x100).
    pub multiplier_permille: i64,
    /// Make this value the option's default.
    #[graphql(default = false)]
    pub is_default: bool,
}

#[derive(InputObject)]
pub struct UpsertPlanInput {
    pub code: String,
    pub name: String,
    pub price_cents: i64,
    pub monthly_credits: i64,
    pub pro_access: bool,
    pub can_buy_tokens: bool,
    /// Percent of the unused allowance carried into the next period (0-100).
    #[graphql(default = 0)]
    pub rollover_percent: i64,
    /// At most this many credits carried; absent or null: no cap.
    pub rollover_cap: Option<i64>,
}

#[derive(InputObject)]
pub struct UpsertTokenPackInput {
    pub id: ID,
    pub tokens: i64,
    pub price_cents: i64,
}

#[derive(InputObject)]
pub struct RetireInput {
    pub kind: CatalogKind,
    pub id: ID,
}

/// What a catalog change answers: the version now in effect.
#[derive(SimpleObject, Default)]
pub struct CatalogChangePayload {
    pub catalog_version: Option<i64>,
    pub errors: Vec<UserError>,
}

payloads!(CatalogChangePayload);

/// One change of the catalog, as audited.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "CatalogChange")]
pub struct CatalogChangeNode {
    /// The version it made.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    /// The admin's token subject (`seed` for version 1).
    pub actor: String,
    /// The mutation (`setPrice`, ...), `import` or `seed`.
    pub change: String,
    /// The entries changed (`tool:upscale`, `model:sdxl`, `plan:STARTER`,
    /// `tokenPack:tokens-500`, `option:IMAGE:resolution`), as they were...
    pub before: Json<serde_json::Value>,
    /// ...and as they are.
    pub after: Json<serde_json::Value>,
}

impl From<CatalogChangeEntry> for CatalogChangeNode {
    fn from(entry: CatalogChangeEntry) -> Self {
        CatalogChangeNode {
            version: entry.version,
            created_at: entry.created_at,
            actor: entry.actor,
            change: entry.change,
            before: Json(entry.before),
            after: Json(entry.after),
        }
    }
}

/// A retired entry of a catalog version.
#[derive(SimpleObject, Clone, Debug)]
pub struct RetiredEntry {
    pub kind: CatalogKind,
    pub id: ID,
}

/// The catalog as one version has it, retired entries included.
pub struct CatalogVersion(std::sync::Arc<catalog::Catalog>);

#[Object]
impl CatalogVersion {
    async fn version(&self) -> i64 {
        self.0.version
    }
    /// The whole version in the seed file's TOML format (as `credits catalog export`).
    async fn toml(&self) -> String {
        catalog::print_document(self.0.document())
    }
    async fn plans(&self) -> Vec<Plan> {
        self.0.plans.iter().map(Plan::from).collect()
    }
    async fn token_packs(&self) -> Vec<TokenPack> {
        self.0.token_packs.iter().map(TokenPack::from).collect()
    }
    /// Tools, with the prices in effect now.
    async fn tools(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<Tool>> {
        let now = now(ctx)?;
        Ok(self.0.tools.iter().map(|tool| Tool::priced(&self.0, tool, now)).collect())
    }
    async fn models(&self) -> Vec<Model> {
        self.0.models.iter().map(Model::from).collect()
    }
    async fn retired(&self) -> Vec<RetiredEntry> {
        let ids = |kind: Kind| -> Vec<String> {
            let of_kind: Vec<&str> = match kind {
                Kind::Tool => self.0.tools.iter().map(|t| t.code.as_str()).collect(),
                Kind::Model => self.0.models.iter().map(|m| m.id.as_str()).collect(),
                Kind::Plan => self.0.plans.iter().map(|p| p.code.as_str()).collect(),
                Kind::TokenPack => self.0.token_packs.iter().map(|p| p.id.as_str()).collect(),
            };
            of_kind.into_iter().filter(|id| self.0.is_retired(kind, id)).map(str::to_owned).collect()
        };
        Kind::ALL
            .into_iter()
            .flat_map(|kind| ids(kind).into_iter().map(move |id| RetiredEntry { kind: kind.into(), id: ID(id) }))
            .collect()
    }
}

#[derive(Default)]
pub struct CatalogAdminQuery;

#[Object]
impl CatalogAdminQuery {
    /// The version of the catalog in effect.
    async fn catalog_version(&self, ctx: &Context<'_>) -> GraphqlResult<i64> {
        Ok(store(ctx)?.catalog().version)
    }

    /// The catalog as of `version` (default: the one in effect), retired
    /// entries included; null for a version that does not exist (admin).
    async fn catalog(&self, ctx: &Context<'_>, version: Option<i64>) -> GraphqlResult<Option<CatalogVersion>> {
        require_admin(ctx, "catalog")?;
        let store = store(ctx)?;
        let version = version.unwrap_or_else(|| store.catalog().version);
        Ok(store.catalog_at(version).await.map_err(graphql_error)?.map(CatalogVersion))
    }

    /// Every change of the catalog, newest first (admin).
    async fn catalog_changes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Connection<String, CatalogChangeNode, EmptyFields>> {
        require_admin(ctx, "catalogChanges")?;
        let cursors = Cursors::new("catalogChanges", String::new());
        let page = page(PageArgs { first, after, ..PageArgs::default() }, &cursors)?;
        let entries = store(ctx)?.catalog_changes(page.read()).await.map_err(graphql_error)?;
        Ok(page.connection(entries, &cursors, |entry| entry.version, CatalogChangeNode::from, EmptyFields))
    }
}

/// Makes `change` as the calling admin.
async fn change(ctx: &Context<'_>, what: &str, change: CatalogChange) -> GraphqlResult<CatalogChangePayload> {
    require_admin(ctx, what)?;
    let (actor, _) = authenticated(ctx)?;
    let result = store(ctx)?.change_catalog(actor, change, now(ctx)?, false).await;
    payload(result, |changed| CatalogChangePayload { catalog_version: Some(changed.version), errors: Vec::new() })
}

#[derive(Default)]
pub struct CatalogAdminMutation;

#[Object]
impl CatalogAdminMutation {
    /// Adds or changes a tool (a retired one is offered again) (admin).
    async fn upsert_tool(&self, ctx: &Context<'_>, input: UpsertToolInput) -> GraphqlResult<CatalogChangePayload> {
        let input = ToolInput {
            code: input.code,
            name: input.name,
            studio: input.studio.into(),
            unit: input.unit.into(),
            requires_model: input.requires_model,
        };
        change(ctx, "upsertTool", CatalogChange::Tool(input)).await
    }

    /// Adds or changes a model and the tools it runs with (admin).
    async fn upsert_model(&self, ctx: &Context<'_>, input: UpsertModelInput) -> GraphqlResult<CatalogChangePayload> {
        let input = catalog::Model {
            id: input.id.0,
            name: input.name,
            studio: input.studio.into(),
            pro: input.pro,
            tools: input.tools,
        };
        change(ctx, "upsertModel", CatalogChange::Model(input)).await
    }

    /// Sets a tool's price (with a model), at once or from `effectiveAt` (admin).
    async fn set_price(&self, ctx: &Context<'_>, input: SetPriceInput) -> GraphqlResult<CatalogChangePayload> {
        let input = PriceInput {
            tool: input.tool,
            model_id: input.model_id.map(|id| id.0),
            millicredits_per_unit: input.millicredits_per_unit,
            effective_at: input.effective_at,
        };
        change(ctx, "setPrice", CatalogChange::Price(input)).await
    }

    /// Adds or changes one value of a studio's option and its multiplier (admin).
    async fn upsert_option_multiplier(
        &self,
        ctx: &Context<'_>,
        input: UpsertOptionMultiplierInput,
    ) -> GraphqlResult<CatalogChangePayload> {
        let input = OptionMultiplierInput {
            studio: input.studio.into(),
            name: input.name,
            value: input.value,
            multiplier_permille: input.multiplier_permille,
            is_default: input.is_default,
        };
        change(ctx, "upsertOptionMultiplier", CatalogChange::OptionMultiplier(input)).await
    }

    /// Adds or changes a plan; subscriptions renew on its new terms (admin).
    async fn upsert_plan(&self, ctx: &Context<'_>, input: UpsertPlanInput) -> GraphqlResult<CatalogChangePayload> {
        let input = catalog::Plan {
            code: input.code,
            name: input.name,
            price_cents: input.price_cents,
            monthly_credits: input.monthly_credits,
            pro_access: input.pro_access,
            can_buy_tokens: input.can_buy_tokens,
            rollover_percent: input.rollover_percent,
            rollover_cap: input.rollover_cap,
        };
        change(ctx, "upsertPlan", CatalogChange::Plan(input)).await
    }

    /// Adds or changes a token pack (admin).
    async fn upsert_token_pack(
        &self,
        ctx: &Context<'_>,
        input: UpsertTokenPackInput,
    ) -> GraphqlResult<CatalogChangePayload> {
        let input = catalog::TokenPack { id: input.id.0, tokens: input.tokens, price_cents: input.price_cents };
        change(ctx, "upsertTokenPack", CatalogChange::TokenPack(input)).await
    }

    /// Takes an entry off offer; history still shows it (admin).
    async fn retire(&self, ctx: &Context<'_>, input: RetireInput) -> GraphqlResult<CatalogChangePayload> {
        change(ctx, "retire", CatalogChange::Retire { kind: input.kind.into(), id: input.id.0 }).await
    }
}
