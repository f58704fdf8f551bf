//! Seeds the default plans, token packs and catalog from `seed/catalog.toml`.
use sea_orm_migration::prelude::*;

use crate::seed::{self, thousandths};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn insert(table: &'static str, columns: &[&'static str], values: Vec<SimpleExpr>) -> InsertStatement {
    Query::insert().into_table(table).columns(columns.iter().copied()).values_panic(values).take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let seed = seed::parse().map_err(|error| DbErr::Migration(format!("seed/catalog.toml: {error}")))?;
        let mut statements = Vec::new();
        for (position, plan) in seed.plans.iter().enumerate() {
            statements.push(insert(
                "plans",
                &["code", "name", "price_cents", "monthly_credits", "pro_access", "can_buy_tokens", "position"],
                vec![
                    plan.code.clone().into(),
                    plan.name.clone().into(),
                    plan.price_cents.into(),
                    plan.monthly_credits.into(),
                    plan.pro_access.into(),
                    plan.can_buy_tokens.into(),
                    (position as i32).into(),
                ],
            ));
        }
        for (position, pack) in seed.token_packs.iter().enumerate() {
            statements.push(insert(
                "token_packs",
                &["id", "tokens", "price_cents", "position"],
                vec![pack.id.clone().into(), pack.tokens.into(), pack.price_cents.into(), (position as i32).into()],
            ));
        }
        let mut tool_position = 0;
        let mut model_position = 0;
        for (position, studio) in seed.studios.iter().enumerate() {
            statements.push(insert(
                "studios",
                &["kind", "name", "position"],
                vec![studio.kind.clone().into(), studio.name.clone().into(), (position as i32).into()],
            ));
            for model in &studio.models {
                model_position += 1;
                statements.push(insert(
                    "models",
                    &["id", "name", "studio", "pro", "position"],
                    vec![
                        model.id.clone().into(),
                        model.name.clone().into(),
                        studio.kind.clone().into(),
                        model.pro.into(),
                        model_position.into(),
                    ],
                ));
            }
            for tool in &studio.tools {
                tool_position += 1;
                statements.push(insert(
                    "tools",
                    &["code", "studio", "name", "unit", "position"],
                    vec![
                        tool.code.clone().into(),
                        studio.kind.clone().into(),
                        tool.name.clone().into(),
                        tool.unit.clone().into(),
                        tool_position.into(),
                    ],
                ));
                let price_columns = ["tool_code", "model_id", "millicredits_per_unit"];
                if let Some(credits) = tool.credits_per_unit {
                    statements.push(insert(
                        "prices",
                        &price_columns,
                        vec![tool.code.clone().into(), Option::<String>::None.into(), thousandths(credits).into()],
                    ));
                }
                for (model, credits) in &tool.models {
                    statements.push(insert(
                        "prices",
                        &price_columns,
                        vec![tool.code.clone().into(), model.clone().into(), thousandths(*credits).into()],
                    ));
                }
            }
            for option in &studio.options {
                for (value, multiplier) in &option.values {
                    statements.push(insert(
                        "option_multipliers",
                        &["studio", "name", "value", "multiplier_permille", "is_default"],
                        vec![
                            studio.kind.clone().into(),
                            option.name.clone().into(),
                            value.clone().into(),
                            thousandths(*multiplier).into(),
                            (*value == option.default).into(),
                        ],
                    ));
                }
            }
        }
        for statement in statements {
            manager.exec_stmt(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["option_multipliers", "prices", "tools", "models", "studios", "token_packs", "plans"] {
            manager.exec_stmt(Query::delete().from_table(table).take()).await?;
        }
        Ok(())
    }
}
