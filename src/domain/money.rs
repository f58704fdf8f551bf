//! Credits are whole numbers held in an `i64`; every operation on them is
//! checked, so an overflow is an error and never a wrap-around.
use std::fmt;
use std::iter::Sum;

use serde::{Deserialize, Serialize};

use super::error::DomainError;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Credits(i64);

impl Credits {
    pub const ZERO: Credits = Credits(0);

    pub const fn new(amount: i64) -> Self {
        Credits(amount)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Credits) -> Option<Credits> {
        self.0.checked_add(other.0).map(Credits)
    }

    pub fn checked_sub(self, other: Credits) -> Option<Credits> {
        self.0.checked_sub(other.0).map(Credits)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Credits> {
        self.0.checked_mul(factor).map(Credits)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn min(self, other: Credits) -> Credits {
        Credits(self.0.min(other.0))
    }
}

/// The most credits one account may own, in its lots and its open holds:
/// what a GraphQL `Int` holds (2^31 - 1), so that no figure of a wallet, a
/// lot or the ledger ever leaves the 32 bits clients and code generators
/// rely on. The same ceiling bounds every balance the ledger shows.
pub const ACCOUNT_CREDITS_MAX: Credits = Credits(i32::MAX as i64);

/// What an account that owns `owned` credits may still receive.
pub fn room(owned: Credits) -> Credits {
    Credits(ACCOUNT_CREDITS_MAX.0.saturating_sub(owned.0).max(0))
}

/// Refuses a movement of `amount` into an account that owns `owned`, naming
/// the input `field` that asked for it.
pub fn check_room(owned: Credits, amount: Credits, field: &'static str) -> Result<(), DomainError> {
    if amount <= room(owned) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            format!(
                "the account owns {owned} credits: {amount} more would pass the {ACCOUNT_CREDITS_MAX} one account may hold"
            ),
        ))
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Sums saturate instead of overflowing: they only ever add lot balances that
/// were each checked on the way in, so saturation is unreachable in practice
/// and a display never panics.
impl Sum for Credits {
    fn sum<I: Iterator<Item = Credits>>(iter: I) -> Credits {
        Credits(iter.fold(0i64, |total, c| total.saturating_add(c.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_holds_at_most_what_a_graphql_int_holds() {
        let max = ACCOUNT_CREDITS_MAX;
        assert_eq!(max.get(), 2_147_483_647);
        assert_eq!(room(Credits::ZERO), max);
        assert_eq!(room(max), Credits::ZERO);
        assert_eq!(room(Credits::new(i64::MAX)), Credits::ZERO);
        let nearly_full = max.checked_sub(Credits::new(10)).unwrap();
        assert_eq!(check_room(nearly_full, Credits::new(10), "credits"), Ok(()));
        let refused = check_room(nearly_full, Credits::new(11), "credits").unwrap_err();
        assert_eq!((refused.code(), refused.field()), (crate::domain::error::ErrorCode::InvalidInput, Some("credits")));
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Credits::new(i64::MAX).checked_add(Credits::new(1)), None);
        assert_eq!(Credits::new(5).checked_sub(Credits::new(7)), Some(Credits::new(-2)));
        assert_eq!(Credits::new(i64::MAX / 2 + 1).checked_mul(2), None);
        assert_eq!([Credits::new(2), Credits::new(3)].into_iter().sum::<Credits>(), Credits::new(5));
    }
}
