//! Usage analytics as the API asks for it: what a summary groups by, what a
//! filter selects, and the buckets it answers. How the store reads them
//! from its rollups is `store::analytics`.
use chrono::{DateTime, Utc};

use super::catalog::StudioKind;
use super::refunds::RefundCause;
use super::text;
use crate::error::DomainError;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
/// Most values in one filter list; more is a malformed request, not a dashboard.
pub const FILTER_VALUES_MAX: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    Day,
    Week,
    Month,
    Studio,
    Tool,
    Model,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupBy {
    pub period: Option<Period>,
    pub studio: bool,
    pub tool: bool,
    pub model: bool,
}

impl GroupBy {
    pub fn new(dimensions: &[Dimension]) -> Result<GroupBy, DomainError> {
        let mut group = GroupBy::default();
        for dimension in dimensions {
            let period = match dimension {
                Dimension::Day => Period::Day,
                Dimension::Week => Period::Week,
                Dimension::Month => Period::Month,
                Dimension::Studio => {
                    group.studio = true;
                    continue;
                }
                Dimension::Tool => {
                    group.tool = true;
                    continue;
                }
                Dimension::Model => {
                    group.model = true;
                    continue;
                }
            };
            if group.period.is_some_and(|p| p != period) {
                return Err(DomainError::invalid("groupBy", "group by at most one of DAY, WEEK and MONTH"));
            }
            group.period = Some(period);
        }
        Ok(group)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageFilter {
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
    pub studios: Option<Vec<StudioKind>>,
    pub tools: Option<Vec<String>>,
    pub model_ids: Option<Vec<String>>,
    /// Which refunds `refunded_credits` counts (all when none); it selects
    /// no events: every other figure is the same with or without it.
    pub refund_causes: Option<Vec<RefundCause>>,
}

impl UsageFilter {
    pub fn validate(&self) -> Result<(), DomainError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err(DomainError::invalid("filter.to", "to must be after from"));
        }
        let too_long = |len: Option<usize>| len.is_some_and(|n| n > FILTER_VALUES_MAX);
        if too_long(self.studios.as_ref().map(Vec::len))
            || too_long(self.tools.as_ref().map(Vec::len))
            || too_long(self.model_ids.as_ref().map(Vec::len))
            || too_long(self.refund_causes.as_ref().map(Vec::len))
        {
            return Err(DomainError::invalid(
                "filter",
                format!("a filter list holds at most {FILTER_VALUES_MAX} values"),
            ));
        }
        text::TOOLS.check_each(self.tools.iter().flatten().map(String::as_str))?;
        text::MODEL_IDS.check_each(self.model_ids.iter().flatten().map(String::as_str))
    }

    /// A stable digest of the filter, so a cursor made under one filter is
    /// refused under another (FNV-1a over its canonical form).
    pub fn fingerprint(&self) -> String {
        let mut canonical = self.clone();
        for list in [&mut canonical.tools, &mut canonical.model_ids].into_iter().flatten() {
            list.sort();
            list.dedup();
        }
        if let Some(studios) = &mut canonical.studios {
            studios.sort();
            studios.dedup();
        }
        if let Some(causes) = &mut canonical.refund_causes {
            causes.sort();
            causes.dedup();
        }
        let text = format!("{:?}", canonical);
        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        format!("{hash:016x}")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Start of the day, week (Monday) or month in the zone, when grouped by one.
    pub period_start: Option<DateTime<Utc>>,
    pub studio: Option<StudioKind>,
    pub tool: Option<String>,
    pub model_id: Option<String>,
    pub generations: i64,
    pub outputs: i64,
    /// Net of refunds: what was charged and not given back.
    pub credits: i64,
    /// Refunded of the bucket's generations (of the filter's causes).
    pub refunded_credits: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_list_order_but_not_values() {
        let a = UsageFilter { tools: Some(vec!["x".into(), "y".into()]), ..UsageFilter::default() };
        let b = UsageFilter { tools: Some(vec!["y".into(), "x".into()]), ..UsageFilter::default() };
        let c = UsageFilter { tools: Some(vec!["x".into()]), ..UsageFilter::default() };
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
