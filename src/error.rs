//! Errors are modeled once: `DomainError` (in `domain::error`) is a business
//! failure the caller can act on (it becomes a `UserError` in the payload);
//! `Error` adds the failures of a request itself (credentials, a database that
//! is away, a bug), which become GraphQL errors with an `extensions.code`.
use sea_orm::{DbErr, RuntimeErr};

pub use crate::domain::error::{DomainError, ErrorCode};

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
