//! The changes an admin makes to the catalog, each turned into the next
//! version: the current version's document is edited, then read whole
//! again (`document.rs`), so a change that would leave anything dangling or
//! mispriced is refused and changes nothing.
use chrono::{DateTime, SecondsFormat, Utc};
use migration::seed;

use super::document::{MILLICREDITS_PER_UNIT_MAX, MULTIPLIER_PERMILLE_MAX, diff, instant_ms};
use super::{Catalog, CatalogDiff, CatalogKind, Document, Model, Plan, PriceUnit, StudioKind, TokenPack};
use crate::domain::carry_over;
use crate::domain::error::DomainError;
use crate::domain::money::ACCOUNT_CREDITS_MAX;
use crate::domain::text::{CATALOG_CODE, CATALOG_NAME, MODEL_ID, OPTION, TOOL, TOOLS, TextInput};

#[derive(Clone, Debug)]
pub struct ToolInput {
    pub code: String,
    pub name: String,
    pub studio: StudioKind,
    pub unit: PriceUnit,
    pub requires_model: bool,
}

#[derive(Clone, Debug)]
pub struct PriceInput {
    pub tool: String,
    pub model_id: Option<String>,
    pub millicredits_per_unit: i64,
    /// None, or not later than the change: at once.
    pub effective_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct OptionMultiplierInput {
    pub studio: StudioKind,
    pub name: String,
    pub value: String,
    pub multiplier_permille: i64,
    /// Makes this value the option's default (a new option's first value is).
    pub is_default: bool,
}

#[derive(Clone, Debug)]
pub enum CatalogChange {
    Tool(ToolInput),
    Model(Model),
    Price(PriceInput),
    OptionMultiplier(OptionMultiplierInput),
    /// A plan as `upsertPlan` takes it: every term of the domain's `Plan`
    /// (a new term is a field there, written in `Plan::write`).
    Plan(Plan),
    TokenPack(TokenPack),
    Retire {
        kind: CatalogKind,
        id: String,
    },
    /// A whole document (`credits catalog import`).
    Import(Box<Document>),
}

fn credits_of(millicredits: i64) -> f64 {
    millicredits as f64 / 1000.0
}

fn studio_of(document: &mut Document, studio: StudioKind) -> Result<&mut seed::Studio, DomainError> {
    document
        .studios
        .iter_mut()
        .find(|s| s.kind == studio.as_str())
        .ok_or_else(|| DomainError::invalid("studio", format!("the catalog has no {} studio", studio.as_str())))
}

fn unit_name(unit: PriceUnit) -> &'static str {
    match unit {
        PriceUnit::Output => "OUTPUT",
        PriceUnit::Second => "SECOND",
        PriceUnit::ThousandCharacters => "THOUSAND_CHARACTERS",
    }
}

/// A code (or id) and a name as an admin writes them: within the limits of
/// their rows in `text.rs`, and not blank.
fn check_code(field: &'static str, code: &str, name: &str) -> Result<(), DomainError> {
    TextInput { field, ..CATALOG_CODE }.check(code)?;
    CATALOG_NAME.check(name)?;
    if code.trim().is_empty() {
        return Err(DomainError::invalid(field, format!("{field} must not be blank")));
    }
    if name.trim().is_empty() {
        return Err(DomainError::invalid("name", "name must not be blank"));
    }
    Ok(())
}

fn in_range(field: &'static str, value: i64, range: std::ops::RangeInclusive<i64>) -> Result<(), DomainError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(DomainError::invalid(field, format!("{field} must be between {} and {}", range.start(), range.end())))
}

impl CatalogChange {
    /// The mutation's name, as the audit records it.
    pub fn name(&self) -> &'static str {
        match self {
            CatalogChange::Tool(_) => "upsertTool",
            CatalogChange::Model(_) => "upsertModel",
            CatalogChange::Price(_) => "setPrice",
            CatalogChange::OptionMultiplier(_) => "upsertOptionMultiplier",
            CatalogChange::Plan(_) => "upsertPlan",
            CatalogChange::TokenPack(_) => "upsertTokenPack",
            CatalogChange::Retire { .. } => "retire",
            CatalogChange::Import(_) => "import",
        }
    }

    /// The next version of `catalog` with this change made at `now`, and
    /// what it changes (empty: nothing, and no new version is needed).
    pub fn apply(self, catalog: &Catalog, now: DateTime<Utc>) -> Result<(Catalog, CatalogDiff), DomainError> {
        let import = matches!(self, CatalogChange::Import(_));
        let mut document = catalog.document().clone();
        match self {
            CatalogChange::Tool(input) => input.write(&mut document)?,
            CatalogChange::Model(input) => input.write(&mut document)?,
            CatalogChange::Price(input) => input.write(&mut document, catalog, now)?,
            CatalogChange::OptionMultiplier(input) => input.write(&mut document)?,
            CatalogChange::Plan(input) => input.write(&mut document)?,
            CatalogChange::TokenPack(input) => input.write(&mut document)?,
            CatalogChange::Retire { kind, id } => retire(&mut document, kind, &id)?,
            CatalogChange::Import(whole) => document = *whole,
        }
        let changes = diff(catalog.document(), &document)?;
        let next = Catalog::from_document(document, catalog.version + 1).map_err(|error| match error {
            // The input's own checks come first; what is left is the whole's.
            DomainError::InvalidInput { message, .. } if !import => DomainError::invalid("input", message),
            other => other,
        })?;
        Ok((next, changes))
    }
}

impl ToolInput {
    fn write(self, document: &mut Document) -> Result<(), DomainError> {
        check_code("code", &self.code, &self.name)?;
        let mut existing = document.studios.iter_mut().flat_map(|s| {
            let kind = s.kind.clone();
            s.tools.iter_mut().map(move |t| (kind.clone(), t))
        });
        let existing = existing.find(|(_, tool)| tool.code == self.code);
        match existing {
            Some((studio, _)) if studio != self.studio.as_str() => {
                Err(DomainError::invalid("studio", format!("tool {} belongs to the {studio} studio", self.code)))
            }
            Some((_, tool)) => {
                let priced = !tool.models.is_empty() || tool.credits_per_unit.is_some() || !tool.scheduled.is_empty();
                if priced && tool.requires_model.unwrap_or(!tool.models.is_empty()) != self.requires_model {
                    return Err(DomainError::invalid(
                        "requiresModel",
                        format!("tool {} has prices: whether it needs a model stays as it is", self.code),
                    ));
                }
                tool.name = self.name;
                tool.unit = unit_name(self.unit).into();
                tool.requires_model = Some(self.requires_model);
                tool.retired = false;
                Ok(())
            }
            None => {
                studio_of(document, self.studio)?.tools.push(seed::Tool {
                    code: self.code,
                    name: self.name,
                    unit: unit_name(self.unit).into(),
                    requires_model: Some(self.requires_model),
                    retired: false,
                    credits_per_unit: None,
                    scheduled: Vec::new(),
                    models: Default::default(),
                });
                Ok(())
            }
        }
    }
}

impl Model {
    fn write(self, document: &mut Document) -> Result<(), DomainError> {
        check_code("id", &self.id, &self.name)?;
        TOOLS.check_each(self.tools.iter().map(String::as_str))?;
        if let Some(other) =
            document.studios.iter().find(|s| s.kind != self.studio.as_str() && s.models.iter().any(|m| m.id == self.id))
        {
            return Err(DomainError::invalid(
                "studio",
                format!("model {} belongs to the {} studio", self.id, other.kind),
            ));
        }
        let studio = studio_of(document, self.studio)?;
        for code in &self.tools {
            let runs_models =
                studio.tools.iter().any(|t| &t.code == code && t.requires_model.unwrap_or(!t.models.is_empty()));
            if !runs_models {
                return Err(DomainError::invalid(
                    "tools",
                    format!("{code} is no tool of the {} studio that runs with a model", studio.kind),
                ));
            }
        }
        let model =
            seed::Model { id: self.id, name: self.name, pro: self.pro, tools: Some(self.tools), retired: false };
        match studio.models.iter_mut().find(|m| m.id == model.id) {
            Some(existing) => *existing = model,
            None => studio.models.push(model),
        }
        Ok(())
    }
}

impl PriceInput {
    fn write(self, document: &mut Document, catalog: &Catalog, now: DateTime<Utc>) -> Result<(), DomainError> {
        TOOL.check(&self.tool)?;
        MODEL_ID.check_optional(self.model_id.as_deref())?;
        in_range("millicreditsPerUnit", self.millicredits_per_unit, 1..=MILLICREDITS_PER_UNIT_MAX)?;
        let tool =
            catalog.tool(&self.tool).ok_or_else(|| DomainError::invalid("tool", format!("no tool {}", self.tool)))?;
        match (&self.model_id, tool.requires_model) {
            (None, true) => {
                return Err(DomainError::invalid(
                    "modelId",
                    format!("tool {} is priced per model: give modelId", tool.code),
                ));
            }
            (Some(_), false) => {
                return Err(DomainError::invalid("modelId", format!("tool {} runs without a model", tool.code)));
            }
            (Some(id), true) if !catalog.model(id).is_some_and(|m| m.tools.contains(&tool.code)) => {
                return Err(DomainError::invalid(
                    "modelId",
                    format!("model {id} does not run tool {}: list it in the model's tools first", tool.code),
                ));
            }
            _ => {}
        }
        let entry = document
            .studios
            .iter_mut()
            .flat_map(|s| s.tools.iter_mut())
            .find(|t| t.code == self.tool)
            .ok_or_else(|| DomainError::invalid("tool", format!("no tool {}", self.tool)))?;
        let credits = credits_of(self.millicredits_per_unit);
        let now_ms = now.timestamp_millis();
        match self.effective_at.filter(|at| *at > now) {
            Some(at) => {
                let effective_at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
                entry.scheduled.retain(|p| p.model != self.model_id || p.effective_at != effective_at);
                entry.scheduled.push(seed::ScheduledPrice {
                    model: self.model_id,
                    credits_per_unit: credits,
                    effective_at,
                });
            }
            None => {
                // Prices scheduled for this pair and already in effect are superseded.
                entry
                    .scheduled
                    .retain(|p| p.model != self.model_id || instant_ms(&p.effective_at).is_ok_and(|at| at > now_ms));
                match self.model_id {
                    Some(model) => {
                        entry.models.insert(model, credits);
                    }
                    None => entry.credits_per_unit = Some(credits),
                }
            }
        }
        entry.scheduled.sort_by_key(|p| instant_ms(&p.effective_at).unwrap_or_default());
        Ok(())
    }
}

impl OptionMultiplierInput {
    fn write(self, document: &mut Document) -> Result<(), DomainError> {
        TextInput { field: "name", ..OPTION }.check(&self.name)?;
        TextInput { field: "value", ..OPTION }.check(&self.value)?;
        in_range("multiplierPermille", self.multiplier_permille, 1..=MULTIPLIER_PERMILLE_MAX)?;
        let studio = studio_of(document, self.studio)?;
        let multiplier = credits_of(self.multiplier_permille);
        match studio.options.iter_mut().find(|o| o.name == self.name) {
            Some(option) => {
                option.values.insert(self.value.clone(), multiplier);
                if self.is_default {
                    option.default = self.value;
                }
            }
            None => studio.options.push(seed::OptionValues {
                name: self.name,
                default: self.value.clone(),
                values: [(self.value, multiplier)].into_iter().collect(),
            }),
        }
        Ok(())
    }
}

impl Plan {
    fn write(self, document: &mut Document) -> Result<(), DomainError> {
        check_code("code", &self.code, &self.name)?;
        in_range("priceCents", self.price_cents, 0..=i64::from(i32::MAX))?;
        in_range("monthlyCredits", self.monthly_credits, 0..=ACCOUNT_CREDITS_MAX.get())?;
        carry_over::validate(self.rollover_percent, self.rollover_cap)?;
        if self.code == Plan::FREE && (self.price_cents != 0 || self.monthly_credits != 0) {
            return Err(DomainError::invalid("priceCents", "the FREE plan costs nothing and grants no allowance"));
        }
        let plan = seed::Plan {
            code: self.code,
            name: self.name,
            price_cents: self.price_cents,
            monthly_credits: self.monthly_credits,
            pro_access: self.pro_access,
            can_buy_tokens: self.can_buy_tokens,
            retired: false,
            rollover_percent: self.rollover_percent,
            rollover_cap: self.rollover_cap,
        };
        match document.plans.iter_mut().find(|p| p.code == plan.code) {
            Some(existing) => *existing = plan,
            None => document.plans.push(plan),
        }
        Ok(())
    }
}

impl TokenPack {
    fn write(self, document: &mut Document) -> Result<(), DomainError> {
        check_code("id", &self.id, &self.id)?;
        in_range("tokens", self.tokens, 1..=ACCOUNT_CREDITS_MAX.get())?;
        in_range("priceCents", self.price_cents, 1..=i64::from(i32::MAX))?;
        let pack = seed::TokenPack { id: self.id, tokens: self.tokens, price_cents: self.price_cents, retired: false };
        match document.token_packs.iter_mut().find(|p| p.id == pack.id) {
            Some(existing) => *existing = pack,
            None => document.token_packs.push(pack),
        }
        Ok(())
    }
}

fn retire(document: &mut Document, kind: CatalogKind, id: &str) -> Result<(), DomainError> {
    TextInput { field: "id", ..CATALOG_CODE }.check(id)?;
    let unknown = || DomainError::invalid("id", format!("no {} {id} in the catalog", kind.as_str()));
    let flag = match kind {
        CatalogKind::Plan if id == Plan::FREE => {
            return Err(DomainError::invalid(
                "id",
                "the FREE plan is every account's without a subscription: it stays",
            ));
        }
        CatalogKind::Plan => document.plans.iter_mut().find(|p| p.code == id).map(|p| &mut p.retired),
        CatalogKind::TokenPack => document.token_packs.iter_mut().find(|p| p.id == id).map(|p| &mut p.retired),
        CatalogKind::Tool => {
            document.studios.iter_mut().flat_map(|s| s.tools.iter_mut()).find(|t| t.code == id).map(|t| &mut t.retired)
        }
        CatalogKind::Model => {
            document.studios.iter_mut().flat_map(|s| s.models.iter_mut()).find(|m| m.id == id).map(|m| &mut m.retired)
        }
    };
    *flag.ok_or_else(unknown)? = true;
    Ok(())
}
