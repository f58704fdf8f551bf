//! A catalog version as its TOML document (the seed file's format): read
//! whole and checked whole, so a version that exists is a valid one; and
//! compared entry by entry, for the audit and for an import's report.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::DateTime;
use migration::seed::{self, is_whole_thousandths, thousandths};

use super::{
    Catalog, CatalogKind, GenerationOption, Model, OptionValue, Plan, PriceUnit, ScheduledPrice, Studio, StudioKind,
    TokenPack, Tool,
};
use crate::domain::error::DomainError;
use crate::domain::money::ACCOUNT_CREDITS_MAX;
use crate::domain::text::{CATALOG_CODE, CATALOG_NAME};

/// The catalog and plans as written in TOML (`migration/seed/catalog.toml`).
pub type Document = seed::Seed;

/// The dearest price a unit may have: a million credits, far from overflow.
pub const MILLICREDITS_PER_UNIT_MAX: i64 = 1_000_000_000;
/// Multipliers run from x0.001 to x100, in thousandths.
pub const MULTIPLIER_PERMILLE_MAX: i64 = 100_000;

fn invalid(message: String) -> DomainError {
    DomainError::invalid("file", message)
}

/// Reads a TOML document; a syntax error or an unknown key is INVALID_INPUT.
pub fn parse(text: &str) -> Result<Document, DomainError> {
    toml::from_str(text).map_err(|error| invalid(format!("the catalog file is not valid: {error}")))
}

/// Prints a document in the seed file's format.
pub fn print(document: &Document) -> String {
    toml::to_string(document).unwrap_or_default()
}

/// Thousandths of a decimal written in the file: positive, at most three
/// decimals, at most `max`.
fn positive_thousandths(value: f64, max: i64, what: &str) -> Result<i64, DomainError> {
    let exact = is_whole_thousandths(value);
    let thousandths = if exact { thousandths(value) } else { 0 };
    if !exact || thousandths <= 0 || thousandths > max {
        return Err(invalid(format!(
            "{what} is {value}: give a positive number with at most three decimals, at most {}",
            max / 1000
        )));
    }
    Ok(thousandths)
}

fn check_text(code: &str, name: &str, what: &str) -> Result<(), DomainError> {
    let checked = CATALOG_CODE.check(code).and_then(|()| CATALOG_NAME.check(name));
    checked.map_err(|error| invalid(format!("{what} {code}: {error}")))?;
    if code.trim().is_empty() || name.trim().is_empty() {
        return Err(invalid(format!("{what} {code:?} needs a code and a name")));
    }
    Ok(())
}

fn unique<'a>(seen: &mut HashSet<&'a str>, id: &'a str, what: &str) -> Result<(), DomainError> {
    if seen.insert(id) { Ok(()) } else { Err(invalid(format!("{what} {id} is listed twice"))) }
}

/// An instant of the file (RFC 3339), in milliseconds.
pub fn instant_ms(value: &str) -> Result<i64, DomainError> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.timestamp_millis())
        .map_err(|_| invalid(format!("effective_at {value:?} is not an RFC 3339 instant")))
}

impl Catalog {
    /// The catalog of `document` as version `version`, or the first thing
    /// wrong with it: every reference known, every price positive, every
    /// multiplier a whole number of thousandths.
    pub fn from_document(document: Document, version: i64) -> Result<Catalog, DomainError> {
        let mut retired: [HashSet<String>; 4] = Default::default();
        let mut retire = |kind: CatalogKind, id: &str, is: bool| {
            if is {
                retired[kind as usize].insert(id.to_owned());
            }
        };
        let (mut seen_plans, mut seen_packs) = (HashSet::new(), HashSet::new());
        for plan in &document.plans {
            check_text(&plan.code, &plan.name, "plan")?;
            unique(&mut seen_plans, &plan.code, "plan")?;
            if plan.price_cents < 0 || !(0..=ACCOUNT_CREDITS_MAX.get()).contains(&plan.monthly_credits) {
                return Err(invalid(format!(
                    "plan {}: price_cents and monthly_credits must not be negative",
                    plan.code
                )));
            }
            retire(CatalogKind::Plan, &plan.code, plan.retired);
        }
        for pack in &document.token_packs {
            check_text(&pack.id, &pack.id, "token pack")?;
            unique(&mut seen_packs, &pack.id, "token pack")?;
            if pack.price_cents <= 0 || !(1..=ACCOUNT_CREDITS_MAX.get()).contains(&pack.tokens) {
                return Err(invalid(format!("token pack {}: tokens and price_cents must be positive", pack.id)));
            }
            retire(CatalogKind::TokenPack, &pack.id, pack.retired);
        }
        let (mut studios, mut tools, mut models, mut options) = (vec![], vec![], vec![], vec![]);
        let mut scheduled: HashMap<String, Vec<(Option<String>, ScheduledPrice)>> = HashMap::new();
        let (mut seen_studios, mut seen_tools, mut seen_models) = (HashSet::new(), HashSet::new(), HashSet::new());
        for studio in &document.studios {
            let kind = StudioKind::parse(&studio.kind).ok_or_else(|| {
                invalid(format!("studio kind {} is none of IMAGE VIDEO SKETCH MUSIC VOICE", studio.kind))
            })?;
            unique(&mut seen_studios, &studio.kind, "studio")?;
            studios.push(Studio { kind, name: studio.name.clone() });
            let studio_models: HashSet<&str> = studio.models.iter().map(|m| m.id.as_str()).collect();
            let mut model_tools = HashMap::new();
            for tool in &studio.tools {
                check_text(&tool.code, &tool.name, "tool")?;
                unique(&mut seen_tools, &tool.code, "tool")?;
                let built = document_tool(kind, tool, &studio_models)?;
                if !tool.scheduled.is_empty() {
                    scheduled.insert(tool.code.clone(), schedule(tool, &studio_models)?);
                }
                for model in tool.models.keys() {
                    model_tools.entry(model.as_str()).or_insert_with(Vec::new).push(tool.code.clone());
                }
                retire(CatalogKind::Tool, &tool.code, tool.retired);
                tools.push(built);
            }
            for model in &studio.models {
                check_text(&model.id, &model.name, "model")?;
                unique(&mut seen_models, &model.id, "model")?;
                let runs = match &model.tools {
                    Some(listed) => listed.clone(),
                    None => model_tools.get(model.id.as_str()).cloned().unwrap_or_default(),
                };
                for code in &runs {
                    let known = studio
                        .tools
                        .iter()
                        .any(|t| &t.code == code && t.requires_model.unwrap_or(!t.models.is_empty()));
                    if !known {
                        return Err(invalid(format!(
                            "model {} runs tool {code}, which is no tool of {} priced per model",
                            model.id, studio.kind
                        )));
                    }
                }
                retire(CatalogKind::Model, &model.id, model.retired);
                models.push(Model {
                    id: model.id.clone(),
                    name: model.name.clone(),
                    studio: kind,
                    pro: model.pro,
                    tools: runs,
                });
            }
            for option in &studio.options {
                options.push(document_option(kind, option, &options)?);
            }
        }
        let plans = document.plans.iter().map(document_plan).collect();
        let packs = document
            .token_packs
            .iter()
            .map(|p| TokenPack { id: p.id.clone(), tokens: p.tokens, price_cents: p.price_cents })
            .collect();
        let mut catalog =
            Catalog::new(studios, tools, models, options, plans, packs).with_history(version, retired, scheduled);
        catalog.document = Arc::new(document);
        Ok(catalog)
    }

    /// The document this version was made from.
    pub fn document(&self) -> &Document {
        &self.document
    }
}

fn document_plan(plan: &seed::Plan) -> Plan {
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

fn document_tool(studio: StudioKind, tool: &seed::Tool, models: &HashSet<&str>) -> Result<Tool, DomainError> {
    let unit = PriceUnit::parse(&tool.unit).ok_or_else(|| {
        invalid(format!("tool {}: unit {} is none of OUTPUT SECOND THOUSAND_CHARACTERS", tool.code, tool.unit))
    })?;
    let requires_model = tool.requires_model.unwrap_or(!tool.models.is_empty());
    if requires_model && tool.credits_per_unit.is_some() || !requires_model && !tool.models.is_empty() {
        return Err(invalid(format!(
            "tool {}: a tool priced per model lists `models`, one without `credits_per_unit`, not both",
            tool.code
        )));
    }
    let price =
        |value: f64, of: &str| positive_thousandths(value, MILLICREDITS_PER_UNIT_MAX, &format!("the price of {of}"));
    let mut model_prices = Vec::new();
    for (model, credits) in &tool.models {
        if !models.contains(model.as_str()) {
            return Err(invalid(format!("tool {} prices model {model}, which is no model of its studio", tool.code)));
        }
        model_prices.push((model.clone(), price(*credits, &format!("{} with {model}", tool.code))?));
    }
    Ok(Tool {
        code: tool.code.clone(),
        name: tool.name.clone(),
        studio,
        unit,
        requires_model,
        tool_price_millicredits: tool.credits_per_unit.map(|credits| price(credits, &tool.code)).transpose()?,
        model_prices_millicredits: model_prices,
    })
}

fn schedule(tool: &seed::Tool, models: &HashSet<&str>) -> Result<Vec<(Option<String>, ScheduledPrice)>, DomainError> {
    let requires_model = tool.requires_model.unwrap_or(!tool.models.is_empty());
    let mut prices = Vec::new();
    for entry in &tool.scheduled {
        match &entry.model {
            Some(model) if requires_model && models.contains(model.as_str()) => {}
            None if !requires_model => {}
            _ => {
                return Err(invalid(format!(
                    "tool {}: a scheduled price names a model exactly when the tool is priced per model, one of its studio",
                    tool.code
                )));
            }
        }
        let millicredits =
            positive_thousandths(entry.credits_per_unit, MILLICREDITS_PER_UNIT_MAX, "a scheduled price")?;
        prices.push((
            entry.model.clone(),
            ScheduledPrice { effective_at_ms: instant_ms(&entry.effective_at)?, millicredits },
        ));
    }
    prices.sort_by_key(|(_, price)| price.effective_at_ms);
    Ok(prices)
}

fn document_option(
    studio: StudioKind,
    option: &seed::OptionValues,
    known: &[GenerationOption],
) -> Result<GenerationOption, DomainError> {
    check_text(&option.name, &option.name, "option")?;
    if known.iter().any(|o| o.studio == studio && o.name == option.name) {
        return Err(invalid(format!("option {} of {} is listed twice", option.name, studio.as_str())));
    }
    if !option.values.contains_key(&option.default) {
        return Err(invalid(format!("option {}: its default {} is none of its values", option.name, option.default)));
    }
    let mut values = Vec::new();
    for (value, multiplier) in &option.values {
        check_text(value, value, "option value")?;
        let what = format!("the multiplier of {} {value}", option.name);
        values.push(OptionValue {
            value: value.clone(),
            multiplier_permille: positive_thousandths(*multiplier, MULTIPLIER_PERMILLE_MAX, &what)?,
            is_default: *value == option.default,
        });
    }
    Ok(GenerationOption { studio, name: option.name.clone(), values })
}

/// What one version changes of another, entry by entry: each entry
/// (`tool:upscale`, `model:sdxl`, `plan:STARTER`, `tokenPack:tokens-500`,
/// `option:IMAGE:resolution`, `studio:IMAGE`) as JSON before and after.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CatalogDiff {
    pub before: serde_json::Map<String, serde_json::Value>,
    pub after: serde_json::Map<String, serde_json::Value>,
}

impl CatalogDiff {
    pub fn is_empty(&self) -> bool {
        self.before.is_empty() && self.after.is_empty()
    }

    /// One line per entry changed: `+` added, `~` changed.
    pub fn lines(&self) -> Vec<String> {
        let mut keys: Vec<&String> = self.after.keys().collect();
        keys.extend(self.before.keys().filter(|key| !self.after.contains_key(*key)));
        keys.into_iter()
            .map(|key| match (self.before.get(key), self.after.get(key)) {
                (None, Some(after)) => format!("+ {key} {after}"),
                (Some(before), Some(after)) => format!("~ {key} {before} -> {after}"),
                (Some(before), None) => format!("- {key} {before}"),
                (None, None) => String::new(),
            })
            .collect()
    }
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn entries(document: &Document) -> BTreeMap<String, serde_json::Value> {
    let mut entries = BTreeMap::new();
    for plan in &document.plans {
        entries.insert(format!("plan:{}", plan.code), json(plan));
    }
    for pack in &document.token_packs {
        entries.insert(format!("tokenPack:{}", pack.id), json(pack));
    }
    for studio in &document.studios {
        entries.insert(format!("studio:{}", studio.kind), serde_json::json!({ "name": studio.name }));
        for tool in &studio.tools {
            entries.insert(format!("tool:{}", tool.code), with_studio(json(tool), &studio.kind));
        }
        for model in &studio.models {
            entries.insert(format!("model:{}", model.id), with_studio(json(model), &studio.kind));
        }
        for option in &studio.options {
            entries.insert(format!("option:{}:{}", studio.kind, option.name), json(option));
        }
    }
    entries
}

fn with_studio(mut value: serde_json::Value, studio: &str) -> serde_json::Value {
    if let Some(object) = value.as_object_mut() {
        object.insert("studio".into(), studio.into());
    }
    value
}

/// What `after` changes of `before`; an entry `after` drops is refused:
/// history names it, so it is retired instead.
pub fn diff(before: &Document, after: &Document) -> Result<CatalogDiff, DomainError> {
    let (old, new) = (entries(before), entries(after));
    let mut diff = CatalogDiff::default();
    for (key, value) in &old {
        match new.get(key) {
            None if key.starts_with("option:") => {
                diff.before.insert(key.clone(), value.clone());
            }
            None => return Err(invalid(format!("the catalog drops {key}: retire it instead (retired = true)"))),
            Some(changed) if changed != value => {
                diff.before.insert(key.clone(), value.clone());
                diff.after.insert(key.clone(), changed.clone());
            }
            Some(_) => {}
        }
    }
    for (key, value) in new {
        if !old.contains_key(&key) {
            diff.after.insert(key, value);
        }
    }
    Ok(diff)
}
