//! Cursor pagination shared by every connection (GraphQL Cursor Connections):
//! opaque keyset cursors, never OFFSET; page size capped.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::errors::graphql_error;
use crate::domain::error::DomainError;
use crate::error::Error;

pub const PAGE_SIZE_DEFAULT: u64 = 20;
pub const PAGE_SIZE_MAX: u64 = 100;

/// `first` as a page size: default when absent, refused outside `0..=max`.
pub fn page_size(first: Option<i32>) -> async_graphql::Result<u64> {
    match first {
        None => Ok(PAGE_SIZE_DEFAULT),
        Some(n) if (0..=PAGE_SIZE_MAX as i32).contains(&n) => Ok(n as u64),
        Some(_) => Err(invalid("first", format!("first must be between 0 and {PAGE_SIZE_MAX}"))),
    }
}

/// An opaque cursor: a kind (so a cursor of one connection is refused by
/// another) and the keyset position.
pub fn encode_cursor(kind: &str, position: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{position}"))
}

/// The keyset position of a cursor of connection `kind`; anything else
/// (another connection's cursor, a forged one) is INVALID_INPUT.
pub fn decode_cursor<T: std::str::FromStr>(kind: &str, cursor: &str, field: &'static str) -> async_graphql::Result<T> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(&format!("{kind}:")).and_then(|position| position.parse().ok()))
        .ok_or_else(|| invalid(field, format!("{field} is not a cursor of this connection")))
}

fn invalid(field: &'static str, message: String) -> async_graphql::Error {
    graphql_error(Error::Domain(DomainError::invalid(field, message)))
}
