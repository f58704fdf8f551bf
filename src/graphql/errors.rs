//! How failures reach clients. A `DomainError` becomes a `UserError` in the
//! payload (or, in a query that has no payload, a GraphQL error carrying the
//! same code); request failures become GraphQL errors with `extensions.code`.
//! Internal details are logged, never sent.
use async_graphql::{Enum, ErrorExtensions, SimpleObject};

use super::spend_limits::SpendLimitKind;
use crate::domain::error::{DomainError, ErrorCode};
use crate::error::Error;

// Derived from `domain::error::ErrorCode` (`remote`): the two cannot drift apart.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "ErrorCode")]
pub enum UserErrorCode {
    InsufficientCredits,
    ProModelRequiresSubscription,
    SubscriptionRequired,
    UnknownTool,
    UnknownModel,
    UnknownPlan,
    UnknownPack,
    InvalidInput,
    IdempotencyConflict,
    NotFound,
    ReservationClosed,
    AlreadyRefunded,
    TopUpPending,
    TopUpClosed,
    SpendLimitReached,
}

/// A business failure: nothing was changed.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    pub code: UserErrorCode,
    pub message: String,
    /// The input field at fault, when one is.
    pub field: Option<String>,
    /// For INSUFFICIENT_CREDITS and SPEND_LIMIT_REACHED: the credits the
    /// operation needed.
    pub needed: Option<i64>,
    /// For INSUFFICIENT_CREDITS: the credits that could pay for it.
    pub available: Option<i64>,
    /// For SPEND_LIMIT_REACHED: the limit that would have been passed.
    pub limit_kind: Option<SpendLimitKind>,
    /// For SPEND_LIMIT_REACHED: the limit, in credits.
    pub limit: Option<i64>,
    /// For SPEND_LIMIT_REACHED: for the daily limit, the credits already
    /// counted today; for the per-generation limit, what this generation
    /// would have spent.
    pub spent: Option<i64>,
}

impl From<&DomainError> for UserError {
    fn from(error: &DomainError) -> Self {
        let mut user_error = UserError {
            code: error.code().into(),
            message: error.to_string(),
            field: error.field().map(str::to_owned),
            needed: None,
            available: None,
            limit_kind: None,
            limit: None,
            spent: None,
        };
        match error {
            DomainError::InsufficientCredits { needed, available } => {
                user_error.needed = Some(needed.get());
                user_error.available = Some(available.get());
            }
            DomainError::SpendLimitReached { kind, limit, spent, needed } => {
                user_error.needed = Some(needed.get());
                user_error.limit_kind = Some((*kind).into());
                user_error.limit = Some(limit.get());
                user_error.spent = Some(spent.get());
            }
            _ => {}
        }
        user_error
    }
}

/// The `extensions.code` of a GraphQL error.
pub fn extension_code(error: &Error) -> &'static str {
    match error {
        Error::Domain(domain) => domain.code().as_str(),
        Error::Unauthenticated(_) => "UNAUTHENTICATED",
        Error::Forbidden(_) => "FORBIDDEN",
        Error::Unavailable(_) => "SERVICE_UNAVAILABLE",
        Error::Internal(_) => "INTERNAL_SERVER_ERROR",
    }
}

/// Turns any failure into a GraphQL error, logging what the client must not see.
pub fn graphql_error(error: Error) -> async_graphql::Error {
    match &error {
        Error::Internal(detail) => tracing::error!(%detail, "internal error"),
        Error::Unavailable(detail) => tracing::warn!(%detail, "database unavailable"),
        _ => {}
    }
    let code = extension_code(&error);
    let field = match &error {
        Error::Domain(domain) => domain.field(),
        _ => None,
    };
    let limit = match &error {
        Error::Domain(DomainError::SpendLimitReached { kind, limit, spent, .. }) => Some((*kind, *limit, *spent)),
        _ => None,
    };
    async_graphql::Error::new(error.to_string()).extend_with(|_, extensions| {
        extensions.set("code", code);
        if let Some(field) = field {
            extensions.set("field", field);
        }
        if let Some((kind, limit, spent)) = limit {
            extensions.set("limitKind", kind.as_str());
            extensions.set("limit", limit.get());
            extensions.set("spent", spent.get());
        }
    })
}

/// Payloads of mutations: the data on success, `errors` on a business failure.
pub trait Payload: Default {
    fn set_errors(&mut self, errors: Vec<UserError>);
}

/// Maps the outcome of a store call into a payload. A business failure fills
/// `errors` and leaves every other field null; anything else is a GraphQL
/// error.
pub fn payload<T, P: Payload>(result: crate::error::Result<T>, ok: impl FnOnce(T) -> P) -> async_graphql::Result<P> {
    match result {
        Ok(value) => Ok(ok(value)),
        Err(Error::Domain(domain)) => {
            crate::metrics::user_error(domain.code().as_str());
            let mut failed = P::default();
            failed.set_errors(vec![UserError::from(&domain)]);
            Ok(failed)
        }
        Err(other) => Err(graphql_error(other)),
    }
}

/// Implements [`Payload`] for payload structs with an `errors` field.
macro_rules! payloads {
    ($($payload:ty),* $(,)?) => {
        $(impl $crate::graphql::errors::Payload for $payload {
            fn set_errors(&mut self, errors: Vec<$crate::graphql::errors::UserError>) {
                self.errors = errors;
            }
        })*
    };
}
pub(crate) use payloads;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Credits;

    #[test]
    fn every_request_failure_has_its_code() {
        let cases = [
            (Error::Unauthenticated("x".into()), "UNAUTHENTICATED"),
            (Error::Forbidden("x".into()), "FORBIDDEN"),
            (Error::Unavailable("x".into()), "SERVICE_UNAVAILABLE"),
            (Error::Internal("secret detail".into()), "INTERNAL_SERVER_ERROR"),
            (DomainError::UnknownTool { code: "t".into() }.into(), "UNKNOWN_TOOL"),
        ];
        let invalid = graphql_error(DomainError::invalid("timeZone", "no such zone").into());
        let extensions = invalid.extensions.expect("extensions");
        assert_eq!(extensions.get("field"), Some(&async_graphql::Value::from("timeZone")));
        for (error, code) in cases {
            let message = error.to_string();
            let graphql = graphql_error(error);
            assert_eq!(graphql.message, message);
            assert!(!graphql.message.contains("secret detail"));
            let extensions = graphql.extensions.expect("extensions");
            assert_eq!(extensions.get("code"), Some(&async_graphql::Value::from(code)));
        }
    }

    #[test]
    fn insufficient_credits_says_how_many() {
        let error = DomainError::InsufficientCredits { needed: Credits::new(30), available: Credits::new(12) };
        let user_error = UserError::from(&error);
        assert_eq!(user_error.code, UserErrorCode::InsufficientCredits);
        assert_eq!((user_error.needed, user_error.available), (Some(30), Some(12)));
        assert!(user_error.message.contains("30") && user_error.message.contains("12"));
    }
}
