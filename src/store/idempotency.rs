//! Idempotency keys (DESIGN.md, rule 6): the first request with a key is
//! recorded with what it produced, in the same transaction as its effects; a
//! retry with the same request gets that result back and moves nothing; the
//! same key with another request is refused.
use entity::idempotency_records;
use sea_orm::QueryTrait as _;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::AccountTx;
use crate::clock::to_ms;
use crate::domain::error::DomainError;
use crate::domain::text::TextInput;
use crate::error::Result;

pub enum Prior {
    New,
    /// The id of what the first request produced.
    Replay(String),
}

/// Keys, payment references and reasons: not blank, and within their row
/// of `domain::text`.
pub fn validate_key(input: &TextInput, key: &str) -> Result<(), DomainError> {
    if key.trim().is_empty() {
        let (field, length_max) = (input.field, input.length_max);
        return Err(DomainError::invalid(field, format!("{field} must be 1 to {length_max} characters")));
    }
    input.check(key)
}

/// Looks the key up under the account's lock, so two racing requests with
/// one key cannot both see it as new.
pub async fn prior(account: &AccountTx, key: &str, operation: &str, request: &str) -> Result<Prior> {
    let record = match account.key_record(key) {
        Some(read) => read.cloned(),
        None => {
            idempotency_records::Entity::find()
                .filter(idempotency_records::Column::AccountId.eq(account.account_id()))
                .filter(idempotency_records::Column::IdempotencyKey.eq(key))
                .one(account.tx())
                .await?
        }
    };
    match record {
        None => Ok(Prior::New),
        Some(record) if record.operation == operation && record.request == request => {
            Ok(Prior::Replay(record.result_ref))
        }
        Some(_) => Err(DomainError::IdempotencyConflict { key: key.to_owned() }.into()),
    }
}

pub async fn record(account: &AccountTx, key: &str, operation: &str, request: &str, result_ref: &str) -> Result<()> {
    let row = idempotency_records::ActiveModel {
        id: NotSet,
        account_id: Set(account.account_id().to_owned()),
        idempotency_key: Set(key.to_owned()),
        operation: Set(operation.to_owned()),
        request: Set(request.to_owned()),
        result_ref: Set(result_ref.to_owned()),
        created_at_ms: Set(to_ms(account.now)),
    };
    account.tx().defer(&idempotency_records::Entity::insert(row).into_query(), 1).await?;
    Ok(())
}
