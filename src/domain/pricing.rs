//! The price of a generation. `quote` and every charge call [`price`], so a
//! quote and the charge that follows it always agree.
use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::catalog::{Catalog, CatalogKind, Model, PriceUnit, StudioKind, Tool};
use super::error::DomainError;
use super::money::Credits;

/// Bounds that keep every price far from overflow and reject typos such as a
/// duration given in milliseconds.
pub const COUNT_MAX: i64 = 100;
pub const DURATION_SECONDS_MAX: i64 = 3_600;
pub const CHARACTERS_MAX: i64 = 1_000_000;

/// What a caller asks to generate, as given (the `GenerationInput`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationRequest {
    pub tool: String,
    pub model_id: Option<String>,
    pub count: i64,
    pub duration_seconds: Option<i64>,
    pub characters: Option<i64>,
    /// `(name, value)` pairs.
    pub options: Vec<(String, String)>,
}

/// A generation checked against the catalog, with its cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedGeneration {
    pub studio: StudioKind,
    pub tool: String,
    pub model_id: Option<String>,
    pub pro: bool,
    pub count: i64,
    /// Seconds or characters for tools priced by them.
    pub units: Option<i64>,
    /// The options as given, sorted by name.
    pub options: Vec<(String, String)>,
    pub credits_per_output: Credits,
    pub credits: Credits,
    /// Thousandths of a credit per unit, as in effect when priced.
    pub unit_price_millicredits: i64,
    /// The catalog version that priced it.
    pub catalog_version: i64,
}

/// Which price a generation pays: the one in effect at an instant, or the
/// one a hold reserved at (whatever the catalog says since).
#[derive(Clone, Copy, Debug)]
pub enum PriceAt {
    Now(DateTime<Utc>),
    Held { unit_price_millicredits: i64, catalog_version: i64 },
}

/// The cost of `request` with the prices in effect at `now`.
pub fn price(
    catalog: &Catalog,
    request: &GenerationRequest,
    now: DateTime<Utc>,
) -> Result<PricedGeneration, DomainError> {
    price_at(catalog, request, PriceAt::Now(now))
}

fn unavailable(kind: CatalogKind, message: String) -> DomainError {
    DomainError::Unavailable { kind, message }
}

/// The tool and model of `request`, offered and running together.
fn offered<'c>(
    catalog: &'c Catalog,
    request: &GenerationRequest,
) -> Result<(&'c Tool, Option<&'c Model>), DomainError> {
    let tool = catalog.tool(&request.tool).ok_or_else(|| DomainError::UnknownTool { code: request.tool.clone() })?;
    if catalog.is_retired(CatalogKind::Tool, &tool.code) {
        return Err(unavailable(CatalogKind::Tool, format!("tool {} was retired from the catalog", tool.code)));
    }
    match (&request.model_id, tool.priced_per_model()) {
        (Some(model_id), true) => {
            let model = catalog
                .model(model_id)
                .ok_or_else(|| DomainError::UnknownModel { message: format!("no model {model_id} in the catalog") })?;
            if catalog.is_retired(CatalogKind::Model, model_id) {
                return Err(unavailable(CatalogKind::Model, format!("model {model_id} was retired from the catalog")));
            }
            if !model.tools.contains(&tool.code) {
                let message = format!("model {model_id} does not run tool {}", tool.code);
                return Err(DomainError::UnknownModel { message });
            }
            Ok((tool, Some(model)))
        }
        (None, true) => Err(DomainError::invalid("modelId", format!("tool {} needs a modelId", tool.code))),
        (Some(_), false) => Err(DomainError::invalid("modelId", format!("tool {} runs without a model", tool.code))),
        (None, false) => Ok((tool, None)),
    }
}

pub fn price_at(catalog: &Catalog, request: &GenerationRequest, at: PriceAt) -> Result<PricedGeneration, DomainError> {
    let (tool, model, price_millicredits, catalog_version) = match at {
        PriceAt::Now(now) => {
            let (tool, model) = offered(catalog, request)?;
            let model_id = model.map(|m| m.id.as_str());
            let price = catalog.unit_price(tool, model_id, now.timestamp_millis()).ok_or_else(|| {
                let what = model_id.map_or(String::new(), |id| format!(" with model {id}"));
                let message = format!("tool {}{what} has no price in effect yet", tool.code);
                unavailable(if model.is_some() { CatalogKind::Model } else { CatalogKind::Tool }, message)
            })?;
            (tool, model, price, catalog.version)
        }
        PriceAt::Held { unit_price_millicredits, catalog_version } => {
            let tool =
                catalog.tool(&request.tool).ok_or_else(|| DomainError::UnknownTool { code: request.tool.clone() })?;
            let model = request.model_id.as_deref().and_then(|id| catalog.model(id));
            (tool, model, unit_price_millicredits, catalog_version)
        }
    };

    if !(1..=COUNT_MAX).contains(&request.count) {
        return Err(DomainError::invalid("count", format!("count must be between 1 and {COUNT_MAX}")));
    }
    let units = measured_units(tool.unit, &tool.code, request)?;
    // The quantity of one output in thousandths of the price unit.
    let quantity_milliunits: i128 = match (tool.unit, units) {
        (PriceUnit::Output, _) => 1_000,
        (PriceUnit::Second, Some(seconds)) => i128::from(seconds) * 1_000,
        (PriceUnit::ThousandCharacters, Some(characters)) => i128::from(characters),
        _ => unreachable!("measured_units returns units for every per-unit tool"),
    };

    let options = resolve_options(catalog, tool.studio, &request.options)?;
    let mut numerator = quantity_milliunits * i128::from(price_millicredits);
    let mut denominator: i128 = 1_000 * 1_000;
    for multiplier_permille in &options.multipliers_permille {
        numerator *= i128::from(*multiplier_permille);
        denominator *= 1_000;
    }
    // Round up: a fraction of a credit is a whole credit.
    let per_output = (numerator + denominator - 1) / denominator;
    let credits_per_output = Credits::new(i64::try_from(per_output).map_err(|_| too_expensive())?);
    let credits = credits_per_output.checked_mul(request.count).ok_or_else(too_expensive)?;

    Ok(PricedGeneration {
        studio: tool.studio,
        tool: tool.code.clone(),
        model_id: model.map(|m| m.id.clone()),
        pro: model.is_some_and(|m| m.pro),
        count: request.count,
        units,
        options: options.chosen,
        credits_per_output,
        credits,
        unit_price_millicredits: price_millicredits,
        catalog_version,
    })
}

fn too_expensive() -> DomainError {
    DomainError::invalid("count", "the generation is too large to price")
}

/// The seconds or characters a per-unit tool is priced by; a measure that the
/// tool is not priced by is refused rather than ignored, so that a caller
/// never believes it paid for something it did not.
fn measured_units(unit: PriceUnit, tool: &str, request: &GenerationRequest) -> Result<Option<i64>, DomainError> {
    let check = |value: Option<i64>, field: &'static str, max: i64| match value {
        Some(v) if (1..=max).contains(&v) => Ok(Some(v)),
        Some(_) => Err(DomainError::invalid(field, format!("{field} must be between 1 and {max}"))),
        None => Err(DomainError::invalid(field, format!("tool {tool} is priced by {field}: give it"))),
    };
    let refuse = |value: Option<i64>, field: &'static str| match value {
        Some(_) => Err(DomainError::invalid(field, format!("tool {tool} is not priced by {field}"))),
        None => Ok(()),
    };
    match unit {
        PriceUnit::Output => {
            refuse(request.duration_seconds, "durationSeconds")?;
            refuse(request.characters, "characters")?;
            Ok(None)
        }
        PriceUnit::Second => {
            refuse(request.characters, "characters")?;
            check(request.duration_seconds, "durationSeconds", DURATION_SECONDS_MAX)
        }
        PriceUnit::ThousandCharacters => {
            refuse(request.duration_seconds, "durationSeconds")?;
            check(request.characters, "characters", CHARACTERS_MAX)
        }
    }
}

/// The options as chosen (sorted by name) and the multiplier of every option
/// of the studio: the chosen value, or the default one when none was given.
struct ResolvedOptions {
    chosen: Vec<(String, String)>,
    multipliers_permille: Vec<i64>,
}

/// Every option given must be one the studio knows, at most once.
fn resolve_options(
    catalog: &Catalog,
    studio: StudioKind,
    given: &[(String, String)],
) -> Result<ResolvedOptions, DomainError> {
    for (name, _) in given {
        if catalog.studio_options(studio).all(|option| &option.name != name) {
            return Err(DomainError::invalid("options", format!("{} studio has no option {name}", studio.as_str())));
        }
        if given.iter().filter(|(other, _)| other == name).count() > 1 {
            return Err(DomainError::invalid("options", format!("option {name} is given twice")));
        }
    }
    let mut multipliers_permille = Vec::new();
    for option in catalog.studio_options(studio) {
        let value = match given.iter().find(|(name, _)| *name == option.name) {
            Some((_, value)) => option.values.iter().find(|v| &v.value == value).ok_or_else(|| {
                let known: Vec<&str> = option.values.iter().map(|v| v.value.as_str()).collect();
                DomainError::invalid("options", format!("option {} is one of {}", option.name, known.join(", ")))
            })?,
            None => match option.values.iter().find(|v| v.is_default) {
                Some(default) => default,
                None => continue,
            },
        };
        multipliers_permille.push(value.multiplier_permille);
    }
    let mut chosen = given.to_vec();
    chosen.sort();
    Ok(ResolvedOptions { chosen, multipliers_permille })
}

#[cfg(test)]
mod tests;
