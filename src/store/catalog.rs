//! Loads the catalog and plans into memory at start.
use entity::{models, option_multipliers, plans, prices, studios, token_packs, tools};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

use crate::domain::catalog::{
    Catalog, GenerationOption, Model, OptionValue, Plan, PriceUnit, Studio, StudioKind, TokenPack, Tool,
};
use crate::error::{Error, Result};

fn studio_kind(value: &str) -> Result<StudioKind> {
    StudioKind::parse(value).ok_or_else(|| Error::internal(format!("catalog has unknown studio {value}")))
}

pub(crate) async fn load(db: &DatabaseConnection) -> Result<Catalog> {
    let price_rows = prices::Entity::find().order_by_asc(prices::Column::Id).all(db).await?;
    let studios = studios::Entity::find()
        .order_by_asc(studios::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Ok(Studio { kind: studio_kind(&row.kind)?, name: row.name }))
        .collect::<Result<Vec<_>>>()?;
    let tools = tools::Entity::find()
        .order_by_asc(tools::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let of_tool = price_rows.iter().filter(|p| p.tool_code == row.code);
            Ok(Tool {
                studio: studio_kind(&row.studio)?,
                unit: PriceUnit::parse(&row.unit)
                    .ok_or_else(|| Error::internal(format!("tool {} has unit {}", row.code, row.unit)))?,
                tool_price_millicredits: of_tool
                    .clone()
                    .find(|p| p.model_id.is_none())
                    .map(|p| p.millicredits_per_unit),
                model_prices_millicredits: of_tool
                    .filter_map(|p| p.model_id.clone().map(|model| (model, p.millicredits_per_unit)))
                    .collect(),
                code: row.code,
                name: row.name,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let models = models::Entity::find()
        .order_by_asc(models::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            Ok(Model { studio: studio_kind(&row.studio)?, id: row.id, name: row.name, pro: row.pro, tools: Vec::new() })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut options: Vec<GenerationOption> = Vec::new();
    for row in option_multipliers::Entity::find().order_by_asc(option_multipliers::Column::Id).all(db).await? {
        let studio = studio_kind(&row.studio)?;
        let value =
            OptionValue { value: row.value, multiplier_permille: row.multiplier_permille, is_default: row.is_default };
        match options.iter_mut().find(|o| o.studio == studio && o.name == row.name) {
            Some(option) => option.values.push(value),
            None => options.push(GenerationOption { studio, name: row.name, values: vec![value] }),
        }
    }
    let plans = plans::Entity::find()
        .order_by_asc(plans::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Plan {
            code: row.code,
            name: row.name,
            price_cents: row.price_cents,
            monthly_credits: row.monthly_credits,
            pro_access: row.pro_access,
            can_buy_tokens: row.can_buy_tokens,
            rollover_percent: row.rollover_percent,
            rollover_cap: row.rollover_cap,
        })
        .collect();
    let token_packs = token_packs::Entity::find()
        .order_by_asc(token_packs::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|row| TokenPack { id: row.id, tokens: row.tokens, price_cents: row.price_cents })
        .collect();
    Ok(Catalog::new(studios, tools, models, options, plans, token_packs))
}
