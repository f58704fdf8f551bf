//! Every string of a GraphQL input checked against its row of
//! `domain::text` before the input becomes a domain request, so no store
//! call sees a string the table refuses. A mutation reports a refusal in
//! its payload's `errors`, a query as a GraphQL error with the same code.
use std::collections::HashMap;
use std::future::Future;

use async_graphql::Positioned;
use async_graphql::parser::types::{BaseType, InputValueDefinition, Type, TypeKind, TypeSystemDefinition};

use super::context::GraphqlResult;
use super::errors::graphql_error;
use super::grants::{GrantCreditsInput, PurchaseTokensInput};
use super::holds::{CaptureReservationInput, ReleaseReservationInput, ReserveCreditsInput};
use super::quote::GenerationInput;
use super::refunds::RefundUsageInput;
use super::spend_limits::SetSpendLimitInput;
use super::spending::ConsumeCreditsInput;
use super::subscriptions::{CancelSubscriptionInput, SubscribeInput};
use super::wallet::SetLowBalanceThresholdInput;
use super::webhooks::{
    CreateWebhookEndpointInput, DeleteWebhookEndpointInput, ReplayEventInput, RotateWebhookSecretInput,
    UpdateWebhookEndpointInput,
};
use crate::domain::error::DomainError;
use crate::domain::text::{
    ACCOUNT_ID, ENDPOINT_ID, EVENT_ID, EVENT_TYPES, IDEMPOTENCY_KEY, MODEL_ID, OPTION, PACK_ID, PAYMENT_REFERENCE,
    PLAN_CODE, REASON, RESERVATION_ID, TOOL, USAGE_EVENT_ID, WEBHOOK_ENDPOINT_AS_ID, WEBHOOK_URL,
};
use crate::error::Result;

/// An input whose strings are checked, in the order the schema lists them.
pub trait Checked {
    fn check(&self) -> Result<(), DomainError>;
}

/// Runs `work` only if the input passed its check. `work` is a future that
/// has not started: a refused input never reaches the store, and comes back
/// as the business failure it is.
pub async fn checked<T>(check: Result<(), DomainError>, work: impl Future<Output = Result<T>>) -> Result<T> {
    check?;
    work.await
}

/// A query has no payload: its refused input is a GraphQL error.
pub fn query_check(check: Result<(), DomainError>) -> GraphqlResult<()> {
    check.map_err(|error| graphql_error(error.into()))
}

impl Checked for GenerationInput {
    fn check(&self) -> Result<(), DomainError> {
        TOOL.check(&self.tool)?;
        MODEL_ID.check_optional(self.model_id.as_deref().map(String::as_str))?;
        self.options.iter().flatten().try_for_each(|option| {
            OPTION.check(&option.name)?;
            OPTION.check(&option.value)
        })
    }
}

impl Checked for ConsumeCreditsInput {
    fn check(&self) -> Result<(), DomainError> {
        ACCOUNT_ID.check(&self.account_id)?;
        self.generation.check()?;
        IDEMPOTENCY_KEY.check(&self.idempotency_key)
    }
}

impl Checked for ReserveCreditsInput {
    fn check(&self) -> Result<(), DomainError> {
        ACCOUNT_ID.check(&self.account_id)?;
        self.generation.check()?;
        IDEMPOTENCY_KEY.check(&self.idempotency_key)
    }
}

impl Checked for CaptureReservationInput {
    fn check(&self) -> Result<(), DomainError> {
        RESERVATION_ID.check(&self.reservation_id)
    }
}

impl Checked for ReleaseReservationInput {
    fn check(&self) -> Result<(), DomainError> {
        RESERVATION_ID.check(&self.reservation_id)
    }
}

impl Checked for RefundUsageInput {
    fn check(&self) -> Result<(), DomainError> {
        USAGE_EVENT_ID.check(&self.usage_event_id)?;
        REASON.check_optional(self.reason.as_deref())
    }
}

impl Checked for PurchaseTokensInput {
    fn check(&self) -> Result<(), DomainError> {
        ACCOUNT_ID.check(&self.account_id)?;
        PACK_ID.check(&self.pack_id)?;
        PAYMENT_REFERENCE.check(&self.payment_reference)?;
        IDEMPOTENCY_KEY.check(&self.idempotency_key)
    }
}

impl Checked for GrantCreditsInput {
    fn check(&self) -> Result<(), DomainError> {
        ACCOUNT_ID.check(&self.account_id)?;
        REASON.check(&self.reason)?;
        IDEMPOTENCY_KEY.check(&self.idempotency_key)
    }
}

impl Checked for SubscribeInput {
    fn check(&self) -> Result<(), DomainError> {
        ACCOUNT_ID.check(&self.account_id)?;
        PLAN_CODE.check(&self.plan_code)?;
        PAYMENT_REFERENCE.check(&self.payment_reference)
    }
}

impl Checked for CancelSubscriptionInput {
    fn check(&self) -> Result<(), DomainError> {
        ACCOUNT_ID.check(&self.account_id)
    }
}

impl Checked for SetLowBalanceThresholdInput {
    fn check(&self) -> Result<(), DomainError> {
        ACCOUNT_ID.check_optional(self.account_id.as_deref().map(String::as_str))
    }
}

impl Checked for SetSpendLimitInput {
    fn check(&self) -> Result<(), DomainError> {
        ACCOUNT_ID.check_optional(self.account_id.as_deref().map(String::as_str))
    }
}

impl Checked for CreateWebhookEndpointInput {
    fn check(&self) -> Result<(), DomainError> {
        WEBHOOK_URL.check(&self.url)?;
        EVENT_TYPES.check_each(self.event_types.iter().flatten().map(String::as_str))
    }
}

impl Checked for UpdateWebhookEndpointInput {
    fn check(&self) -> Result<(), DomainError> {
        WEBHOOK_ENDPOINT_AS_ID.check(&self.id)?;
        WEBHOOK_URL.check_optional(self.url.as_deref())?;
        EVENT_TYPES.check_each(self.event_types.iter().flatten().map(String::as_str))
    }
}

impl Checked for RotateWebhookSecretInput {
    fn check(&self) -> Result<(), DomainError> {
        WEBHOOK_ENDPOINT_AS_ID.check(&self.id)
    }
}

impl Checked for DeleteWebhookEndpointInput {
    fn check(&self) -> Result<(), DomainError> {
        WEBHOOK_ENDPOINT_AS_ID.check(&self.id)
    }
}

impl Checked for ReplayEventInput {
    fn check(&self) -> Result<(), DomainError> {
        EVENT_ID.check(&self.event_id)?;
        ENDPOINT_ID.check_optional(self.endpoint_id.as_deref().map(String::as_str))
    }
}

/// A `String` or `ID` input of the schema: an argument of
/// `type_name.field`, or a field (at any depth) of an input object one of
/// its arguments takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringInput {
    pub type_name: String,
    pub field: String,
    pub input: String,
}

/// Every string input of the schema `sdl`, read from it, so tests can hold
/// the table of limits (and their own cases) to the schema as it is.
pub fn string_inputs(sdl: &str) -> async_graphql::parser::Result<Vec<StringInput>> {
    fn base(ty: &Type) -> &str {
        match &ty.base {
            BaseType::Named(name) => name.as_str(),
            BaseType::List(inner) => base(inner),
        }
    }
    fn strings(values: &[InputValueDefinition], inputs: &HashMap<String, Vec<InputValueDefinition>>) -> Vec<String> {
        let nested = |value: &InputValueDefinition| match base(&value.ty.node) {
            "String" | "ID" => vec![value.name.node.to_string()],
            other => inputs.get(other).map(|fields| strings(fields, inputs)).unwrap_or_default(),
        };
        values.iter().flat_map(nested).collect()
    }
    let nodes =
        |values: Vec<Positioned<InputValueDefinition>>| -> Vec<_> { values.into_iter().map(|v| v.node).collect() };
    let (mut inputs, mut fields) = (HashMap::new(), Vec::new());
    for definition in async_graphql::parser::parse_schema(sdl)?.definitions {
        let TypeSystemDefinition::Type(definition) = definition else { continue };
        let type_name = definition.node.name.node.to_string();
        let object_fields = match definition.node.kind {
            TypeKind::InputObject(input) => {
                inputs.insert(type_name, nodes(input.fields));
                continue;
            }
            TypeKind::Object(object) => object.fields,
            TypeKind::Interface(interface) => interface.fields,
            _ => continue,
        };
        for field in object_fields {
            fields.push((type_name.clone(), field.node.name.node.to_string(), nodes(field.node.arguments)));
        }
    }
    let found = fields.into_iter().flat_map(|(type_name, field, arguments)| {
        let found = strings(&arguments, &inputs).into_iter();
        found.map(move |input| StringInput { type_name: type_name.clone(), field: field.clone(), input })
    });
    Ok(found.collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::pagination::Cursors;
    use super::string_inputs;
    use crate::domain::text::{self, TEXT_INPUTS};

    #[test]
    fn every_string_input_of_the_schema_has_a_row_in_the_table() {
        let inputs = string_inputs(&crate::graphql::sdl()).expect("the SDL parses");
        assert!(inputs.len() >= 45, "the schema reader finds the inputs: {inputs:?}");
        let table: BTreeSet<&str> = TEXT_INPUTS.iter().flat_map(|input| input.schema_names()).copied().collect();
        let missing: Vec<String> = inputs
            .iter()
            .filter(|i| !table.contains(i.input.as_str()))
            .map(|i| format!("{}.{}({})", i.type_name, i.field, i.input))
            .collect();
        assert!(missing.is_empty(), "string inputs without a limit in domain::text: {missing:?}");
        // And no row is left over from an input that is gone.
        let names: BTreeSet<&str> = inputs.iter().map(|i| i.input.as_str()).collect();
        let stale: Vec<&&str> = table.iter().filter(|name| !names.contains(**name)).collect();
        assert!(stale.is_empty(), "rows of domain::text for no input: {stale:?}");
    }

    #[test]
    fn cursors_the_server_makes_fit_the_cursor_limit() {
        // The longest positions, under a 16-digit filter digest: the extreme
        // timestamp and id of a usage cursor, the extreme id of a ledger one.
        let digest = format!("{:016x}", u64::MAX);
        let usage = Cursors::new("usage", digest.clone()).encode(&(i64::MIN, i64::MIN));
        let ledger = Cursors::new("ledger", digest).encode(&i64::MIN);
        for cursor in [usage, ledger] {
            assert_eq!(text::AFTER.check(&cursor), Ok(()), "{cursor}");
            assert_eq!(text::BEFORE.check(&cursor), Ok(()), "{cursor}");
        }
    }

    #[test]
    fn the_seed_catalog_fits_the_limits() {
        let seed = migration::seed::parse().expect("the seed parses");
        let plans = seed.plans.iter().map(|plan| (text::PLAN_CODE, plan.code.as_str()));
        let packs = seed.token_packs.iter().map(|pack| (text::PACK_ID, pack.id.as_str()));
        let studios = seed.studios.iter().flat_map(|studio| {
            let tools =
                studio.tools.iter().flat_map(|tool| [(text::TOOL, tool.code.as_str()), (text::TOOLS, &tool.code)]);
            let models = studio
                .models
                .iter()
                .flat_map(|model| [(text::MODEL_ID, model.id.as_str()), (text::MODEL_IDS, &model.id)]);
            let options = studio.options.iter().flat_map(|option| {
                std::iter::once(option.name.as_str())
                    .chain(option.values.keys().map(String::as_str))
                    .map(|v| (text::OPTION, v))
            });
            tools.chain(models).chain(options)
        });
        for (input, value) in plans.chain(packs).chain(studios) {
            assert_eq!(input.check(value), Ok(()), "{}: {value}", input.field);
        }
    }
}
