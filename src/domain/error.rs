//! Business failures a caller can act on, and the codes they carry: one
//! meaning per code (see the README's table). Pure: the GraphQL layer maps a
//! code to its `UserErrorCode`, the request layer (`crate::error`) wraps these
//! beside the failures of a request itself.
use super::catalog::CatalogKind;
use super::money::Credits;
use super::spend_limits::SpendLimitKind;

/// The `UserErrorCode`s of the API; one meaning each (see the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
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

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InsufficientCredits => "INSUFFICIENT_CREDITS",
            ErrorCode::ProModelRequiresSubscription => "PRO_MODEL_REQUIRES_SUBSCRIPTION",
            ErrorCode::SubscriptionRequired => "SUBSCRIPTION_REQUIRED",
            ErrorCode::UnknownTool => "UNKNOWN_TOOL",
            ErrorCode::UnknownModel => "UNKNOWN_MODEL",
            ErrorCode::UnknownPlan => "UNKNOWN_PLAN",
            ErrorCode::UnknownPack => "UNKNOWN_PACK",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::ReservationClosed => "RESERVATION_CLOSED",
            ErrorCode::AlreadyRefunded => "ALREADY_REFUNDED",
            ErrorCode::TopUpPending => "TOP_UP_PENDING",
            ErrorCode::TopUpClosed => "TOP_UP_CLOSED",
            ErrorCode::SpendLimitReached => "SPEND_LIMIT_REACHED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("this generation costs {needed} credits but only {available} are available")]
    InsufficientCredits { needed: Credits, available: Credits },
    #[error("{model} is a Pro model: it needs an active subscription with Pro access")]
    ProModelRequiresSubscription { model: String },
    #[error("{action} needs an active paid subscription")]
    SubscriptionRequired { action: &'static str },
    #[error("no tool {code} in the catalog")]
    UnknownTool { code: String },
    #[error("{message}")]
    UnknownModel { message: String },
    #[error("no plan {code}")]
    UnknownPlan { code: String },
    #[error("no token pack {id}")]
    UnknownPack { id: String },
    /// A tool, model, plan or token pack the catalog no longer (or not yet)
    /// offers: retired, or without a price in effect. Its code is the one of
    /// an unknown entry of its kind.
    #[error("{message}")]
    Unavailable { kind: super::catalog::CatalogKind, message: String },
    #[error("{message}")]
    InvalidInput { field: &'static str, message: String },
    #[error("idempotency key {key} was already used for a different request")]
    IdempotencyConflict { key: String },
    #[error("no {what} {id}")]
    NotFound { what: &'static str, id: String },
    #[error("reservation {id} is already {status}")]
    ReservationClosed { id: String, status: String },
    #[error("usage event {id} was already refunded")]
    AlreadyRefunded { id: String },
    #[error("top-up {id} is still pending: complete, fail or let it expire first")]
    TopUpPending { id: String },
    #[error("top-up {id} is already {status}")]
    TopUpClosed { id: String, status: String },
    /// A charge or hold that would pass a spend limit. `spent`: for the
    /// daily limit, the credits already counted today; for the
    /// per-generation limit, what this generation would have spent.
    #[error("{}", spend_limit_message(*kind, *limit, *spent, *needed))]
    SpendLimitReached { kind: SpendLimitKind, limit: Credits, spent: Credits, needed: Credits },
}

fn spend_limit_message(kind: SpendLimitKind, limit: Credits, spent: Credits, needed: Credits) -> String {
    match kind {
        SpendLimitKind::PerGeneration => {
            format!("this generation costs {needed} credits, more than the per-generation spend limit of {limit}")
        }
        SpendLimitKind::Daily => format!(
            "this generation costs {needed} credits but the daily spend limit of {limit} has {} left ({spent} spent today)",
            Credits::new(limit.get().saturating_sub(spent.get()).max(0))
        ),
    }
}

impl DomainError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        DomainError::InvalidInput { field, message: message.into() }
    }

    /// Credits arithmetic that would leave the range of an `i64`: the
    /// amounts that led there (the input `field`) were too large to be real.
    pub fn overflow(field: &'static str) -> Self {
        DomainError::invalid(field, format!("{field} is out of range"))
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            DomainError::InsufficientCredits { .. } => ErrorCode::InsufficientCredits,
            DomainError::ProModelRequiresSubscription { .. } => ErrorCode::ProModelRequiresSubscription,
            DomainError::SubscriptionRequired { .. } => ErrorCode::SubscriptionRequired,
            DomainError::UnknownTool { .. } => ErrorCode::UnknownTool,
            DomainError::UnknownModel { .. } => ErrorCode::UnknownModel,
            DomainError::UnknownPlan { .. } => ErrorCode::UnknownPlan,
            DomainError::UnknownPack { .. } => ErrorCode::UnknownPack,
            DomainError::Unavailable { kind, .. } => match kind {
                CatalogKind::Tool => ErrorCode::UnknownTool,
                CatalogKind::Model => ErrorCode::UnknownModel,
                CatalogKind::Plan => ErrorCode::UnknownPlan,
                CatalogKind::TokenPack => ErrorCode::UnknownPack,
            },
            DomainError::InvalidInput { .. } => ErrorCode::InvalidInput,
            DomainError::IdempotencyConflict { .. } => ErrorCode::IdempotencyConflict,
            DomainError::NotFound { .. } => ErrorCode::NotFound,
            DomainError::ReservationClosed { .. } => ErrorCode::ReservationClosed,
            DomainError::AlreadyRefunded { .. } => ErrorCode::AlreadyRefunded,
            DomainError::TopUpPending { .. } => ErrorCode::TopUpPending,
            DomainError::TopUpClosed { .. } => ErrorCode::TopUpClosed,
            DomainError::SpendLimitReached { .. } => ErrorCode::SpendLimitReached,
        }
    }

    /// The input field at fault, as a path in the mutation's input.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DomainError::InvalidInput { field, .. } => Some(field),
            DomainError::UnknownTool { .. } => Some("tool"),
            DomainError::Unavailable { kind, .. } => Some(match kind {
                CatalogKind::Tool => "tool",
                CatalogKind::Model => "modelId",
                CatalogKind::Plan => "planCode",
                CatalogKind::TokenPack => "packId",
            }),
            DomainError::UnknownModel { .. } | DomainError::ProModelRequiresSubscription { .. } => Some("modelId"),
            DomainError::UnknownPlan { .. } => Some("planCode"),
            DomainError::UnknownPack { .. } => Some("packId"),
            DomainError::IdempotencyConflict { .. } => Some("idempotencyKey"),
            DomainError::TopUpClosed { .. } => Some("topUpId"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_each() -> Vec<DomainError> {
        let (id, text) = (String::from("x"), String::from("x"));
        vec![
            DomainError::InsufficientCredits { needed: Credits::new(3), available: Credits::new(2) },
            DomainError::ProModelRequiresSubscription { model: text.clone() },
            DomainError::SubscriptionRequired { action: "buying tokens" },
            DomainError::UnknownTool { code: text.clone() },
            DomainError::UnknownModel { message: text.clone() },
            DomainError::UnknownPlan { code: text.clone() },
            DomainError::UnknownPack { id: id.clone() },
            DomainError::invalid("ttlSeconds", "too long"),
            DomainError::IdempotencyConflict { key: text.clone() },
            DomainError::NotFound { what: "reservation", id: id.clone() },
            DomainError::ReservationClosed { id: id.clone(), status: "released".into() },
            DomainError::AlreadyRefunded { id: id.clone() },
            DomainError::TopUpPending { id: id.clone() },
            DomainError::TopUpClosed { id, status: "failed".into() },
            DomainError::SpendLimitReached {
                kind: SpendLimitKind::Daily,
                limit: Credits::new(100),
                spent: Credits::new(95),
                needed: Credits::new(10),
            },
        ]
    }

    #[test]
    fn each_failure_has_a_code_of_its_own() {
        let codes: Vec<&str> = one_of_each().iter().map(|error| error.code().as_str()).collect();
        let mut distinct = codes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), codes.len(), "two failures share a code: {codes:?}");
        assert!(codes.iter().all(|code| code.chars().all(|c| c.is_ascii_uppercase() || c == '_')), "{codes:?}");
    }

    #[test]
    fn failures_name_the_input_field_at_fault() {
        let fields: Vec<Option<&str>> = one_of_each().iter().map(DomainError::field).collect();
        assert_eq!(
            fields,
            [
                None,
                Some("modelId"),
                None,
                Some("tool"),
                Some("modelId"),
                Some("planCode"),
                Some("packId"),
                Some("ttlSeconds"),
                Some("idempotencyKey"),
                None,
                None,
                None,
                None,
                Some("topUpId"),
                None,
            ]
        );
    }

    #[test]
    fn an_overflow_is_invalid_input_on_its_field() {
        let error = DomainError::overflow("credits");
        assert_eq!((error.code(), error.field()), (ErrorCode::InvalidInput, Some("credits")));
        assert_eq!(error.to_string(), "credits is out of range");
    }
}
