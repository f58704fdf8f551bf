//! Credits are whole numbers held in an `i64`; every operation on them is
//! checked, so an overflow is an error and never a wrap-around.
use std::fmt;
use std::iter::Sum;

use serde::{Deserialize, Serialize};

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
    fn arithmetic_is_checked() {
        assert_eq!(Credits::new(i64::MAX).checked_add(Credits::new(1)), None);
        assert_eq!(Credits::new(5).checked_sub(Credits::new(7)), Some(Credits::new(-2)));
        assert_eq!(Credits::new(i64::MAX / 2 + 1).checked_mul(2), None);
        assert_eq!([Credits::new(2), Credits::new(3)].into_iter().sum::<Credits>(), Credits::new(5));
    }
}
