//! Whole numbers and the 32 bits of GraphQL's `Int`. An account's figures
//! stay within them by a rule of money (`money::ACCOUNT_CREDITS_MAX`); what
//! adds up many accounts is a `BigInt`; what adds up one account's history
//! is checked on the way out.
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use super::context::GraphqlResult;
use super::errors::graphql_error;
use super::usage::UsageBucket;
use crate::domain::error::DomainError;

/// A whole number that may pass 32 bits (the platform's totals), written as
/// a decimal string: JavaScript reads JSON numbers past 2^53 wrong, and
/// GraphQL's `Int` stops at 2^31 - 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BigInt(pub i64);

/// A whole number of up to 64 bits, as a decimal string ("4294967296").
/// Inputs may also give it as a JSON number.
#[Scalar(name = "BigInt")]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        let whole = || InputValueError::custom("not a whole number of 64 bits");
        match value {
            Value::String(text) => text.parse().map(BigInt).map_err(|_| whole()),
            Value::Number(number) => number.as_i64().map(BigInt).ok_or_else(whole),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// A figure of one account's history (a total, a bucket) as an `Int`; one
/// past 32 bits is refused with INVALID_INPUT on `filter`, whose range the
/// client can narrow.
pub fn int(value: i64, what: &str) -> GraphqlResult<i32> {
    i32::try_from(value).map_err(|_| {
        let message = format!("{what} is {value}, past what a GraphQL Int holds: narrow the filter's range");
        graphql_error(DomainError::invalid("filter", message).into())
    })
}

/// An account's usage summary, each figure checked to fit an `Int`.
pub fn int_buckets(buckets: Vec<UsageBucket>) -> GraphqlResult<Vec<UsageBucket>> {
    for bucket in &buckets {
        int(bucket.generations, "a bucket's generations")?;
        int(bucket.outputs, "a bucket's outputs")?;
        int(bucket.credits, "a bucket's credits")?;
    }
    Ok(buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_ints_are_decimal_strings_both_ways() {
        let past_int = BigInt(i64::from(i32::MAX) + 1);
        assert_eq!(past_int.to_value(), Value::String("2147483648".into()));
        assert_eq!(BigInt::parse(Value::String("2147483648".into())).ok(), Some(past_int));
        assert_eq!(BigInt::parse(Value::from(7)).ok(), Some(BigInt(7)));
        assert!(BigInt::parse(Value::String("1.5".into())).is_err());
        assert!(BigInt::parse(Value::Boolean(true)).is_err());
    }

    #[test]
    fn a_history_figure_past_32_bits_is_invalid_input() {
        assert_eq!(int(i64::from(i32::MAX), "credits").ok(), Some(i32::MAX));
        let error = int(i64::from(i32::MAX) + 1, "credits").unwrap_err();
        let extensions = error.extensions.expect("extensions");
        assert_eq!(extensions.get("code"), Some(&Value::from("INVALID_INPUT")));
        assert!(error.message.contains("2147483648"), "{}", error.message);
    }
}
