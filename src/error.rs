//! Errors are modeled once: `DomainError` is a business failure the caller can
//! act on (it becomes a `UserError` in the payload); `Error` adds the failures
//! of a request itself (credentials, a database that is away, a bug), which
//! become GraphQL errors with an `extensions.code`.
use sea_orm::{DbErr, RuntimeErr};

use crate::domain::money::Credits;

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
}

impl DomainError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        DomainError::InvalidInput { field, message: message.into() }
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
            DomainError::InvalidInput { .. } => ErrorCode::InvalidInput,
            DomainError::IdempotencyConflict { .. } => ErrorCode::IdempotencyConflict,
            DomainError::NotFound { .. } => ErrorCode::NotFound,
            DomainError::ReservationClosed { .. } => ErrorCode::ReservationClosed,
            DomainError::AlreadyRefunded { .. } => ErrorCode::AlreadyRefunded,
        }
    }

    /// The input field at fault, as a path in the mutation's input.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DomainError::InvalidInput { field, .. } => Some(field),
            DomainError::UnknownTool { .. } => Some("tool"),
            DomainError::UnknownModel { .. } | DomainError::ProModelRequiresSubscription { .. } => Some("modelId"),
            DomainError::UnknownPlan { .. } => Some("planCode"),
            DomainError::UnknownPack { .. } => Some("packId"),
            DomainError::IdempotencyConflict { .. } => Some("idempotencyKey"),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// The database cannot be reached; the detail is logged, never sent.
    #[error("the service is unavailable, try again shortly")]
    Unavailable(String),
    /// A bug or an unexpected database failure; the detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl Error {
    pub fn internal(detail: impl Into<String>) -> Self {
        Error::Internal(detail.into())
    }
}

impl From<DbErr> for Error {
    fn from(error: DbErr) -> Self {
        let unreachable = match &error {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                matches!(
                    e.as_ref(),
                    sea_orm::sqlx::Error::Io(_) | sea_orm::sqlx::Error::PoolTimedOut | sea_orm::sqlx::Error::PoolClosed
                )
            }
            _ => false,
        };
        if unreachable { Error::Unavailable(error.to_string()) } else { Error::Internal(error.to_string()) }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
