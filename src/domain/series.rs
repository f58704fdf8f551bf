//! Chart-ready usage (`usageSeries`): every period of a range in a zone,
//! zero-filled, and one line per studio, tool or model, the top ones by
//! credits first and the rest added up in one `other` line. The buckets
//! come from the same summaries as `usageSummary` (`store::analytics`).
use std::collections::HashMap;

use chrono::{DateTime, Days, Duration, Months, NaiveDate, Utc};
use chrono_tz::Tz;

use super::analytics::{Bucket, Dimension, GroupBy, Period, UsageFilter};
use super::catalog::StudioKind;
use super::error::DomainError;
use super::periods::local_midnight;

/// Most periods in one series: a chart has no use for more, and each line
/// holds three numbers per period.
pub const PERIODS_MAX: usize = 1_000;
/// Most lines before `other`.
pub const TOP_MAX: i32 = 50;
/// The days a series covers when its filter gives no `from`.
pub const DEFAULT_DAYS: u64 = 30;

/// What the lines of a series are split by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitBy {
    Studio,
    Tool,
    Model,
}

/// A series as asked for: its interval, split, number of top lines and zone.
#[derive(Clone, Copy, Debug)]
pub struct SeriesRequest {
    pub period: Period,
    pub by: Option<SplitBy>,
    pub top: usize,
    pub time_zone: Tz,
}

impl SeriesRequest {
    pub fn new(period: Period, by: Option<Dimension>, top: i32, time_zone: Tz) -> Result<Self, DomainError> {
        let by = match by {
            None => None,
            Some(Dimension::Studio) => Some(SplitBy::Studio),
            Some(Dimension::Tool) => Some(SplitBy::Tool),
            Some(Dimension::Model) => Some(SplitBy::Model),
            Some(Dimension::Day | Dimension::Week | Dimension::Month) => {
                return Err(DomainError::invalid(
                    "by",
                    "split by STUDIO, TOOL or MODEL; the interval gives the periods",
                ));
            }
        };
        if !(1..=TOP_MAX).contains(&top) {
            return Err(DomainError::invalid("top", format!("top must be between 1 and {TOP_MAX}")));
        }
        Ok(SeriesRequest { period, by, top: top as usize, time_zone })
    }

    /// What the summary behind the series groups by.
    pub fn group(&self) -> GroupBy {
        GroupBy {
            period: Some(self.period),
            studio: self.by == Some(SplitBy::Studio),
            tool: self.by == Some(SplitBy::Tool),
            model: self.by == Some(SplitBy::Model),
        }
    }

    /// `filter` with its range made whole, and the periods of that range.
    /// Without `to`, up to `now` (inclusive, as a summary reads it);
    /// without `from`, the last 30 local days, from the midnight that
    /// starts the first of them.
    pub fn range(
        &self,
        filter: &UsageFilter,
        now: DateTime<Utc>,
    ) -> Result<(UsageFilter, Vec<DateTime<Utc>>), DomainError> {
        let to = filter.to.unwrap_or(now + Duration::milliseconds(1));
        let from = filter.from.unwrap_or_else(|| {
            let last_day = (to - Duration::milliseconds(1)).with_timezone(&self.time_zone).date_naive();
            let first_day = last_day.checked_sub_days(Days::new(DEFAULT_DAYS - 1)).unwrap_or(last_day);
            local_midnight(first_day, self.time_zone)
        });
        // A `from` after now without a `to`: the period of `from` alone.
        let to = to.max(from + Duration::milliseconds(1));
        let periods = self.periods(from, to)?;
        Ok((UsageFilter { from: Some(from), to: Some(to), ..filter.clone() }, periods))
    }

    /// The start of every period that `[from, to)` touches, in the zone;
    /// INVALID_INPUT on `filter` past `PERIODS_MAX`.
    fn periods(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>, DomainError> {
        let mut date = self.period.start_of(from.with_timezone(&self.time_zone).date_naive());
        let mut periods = Vec::new();
        loop {
            let start = local_midnight(date, self.time_zone);
            if start >= to && !periods.is_empty() {
                return Ok(periods);
            }
            if periods.len() == PERIODS_MAX {
                let message =
                    format!("the range holds more than {PERIODS_MAX} periods: narrow it or take a longer interval");
                return Err(DomainError::invalid("filter", message));
            }
            periods.push(start);
            date = match self.period.after(date) {
                Some(next) => next,
                None => return Ok(periods),
            };
        }
    }
}

impl Period {
    /// The first day of the period that `date` falls in (weeks start on Monday).
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        use chrono::Datelike;
        match self {
            Period::Day => date,
            Period::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
            Period::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first day of the next period, from the first day of one.
    fn after(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Day => start.checked_add_days(Days::new(1)),
            Period::Week => start.checked_add_days(Days::new(7)),
            Period::Month => start.checked_add_months(Months::new(1)),
        }
    }
}

/// Which usage a line adds up.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LineKey {
    /// Everything (a series not split).
    All,
    Studio(Option<StudioKind>),
    Tool(Option<String>),
    /// `None`: generations without a model (an upscale, say).
    Model(Option<String>),
    /// What the top lines leave.
    Other,
}

impl LineKey {
    /// The line of a bucket, its name moved out of it.
    fn of(by: Option<SplitBy>, bucket: &mut Bucket) -> LineKey {
        match by {
            None => LineKey::All,
            Some(SplitBy::Studio) => LineKey::Studio(bucket.studio),
            Some(SplitBy::Tool) => LineKey::Tool(bucket.tool.take()),
            Some(SplitBy::Model) => LineKey::Model(bucket.model_id.take()),
        }
    }

    /// A stable key, unique in a series, for a chart to tell lines apart.
    pub fn key(&self) -> String {
        let some = |value: Option<&str>| value.unwrap_or_default().to_owned();
        match self {
            LineKey::All => "all".into(),
            LineKey::Other => "other".into(),
            LineKey::Studio(studio) => format!("studio:{}", some(studio.map(StudioKind::as_str))),
            LineKey::Tool(tool) => format!("tool:{}", some(tool.as_deref())),
            LineKey::Model(model) => format!("model:{}", some(model.as_deref())),
        }
    }

    /// What a chart's legend shows (a model's catalog name is the API's to add).
    pub fn label(&self) -> String {
        match self {
            LineKey::All => "All usage".into(),
            LineKey::Other => "Other".into(),
            LineKey::Studio(Some(studio)) => studio.as_str().into(),
            LineKey::Tool(Some(text)) | LineKey::Model(Some(text)) => text.clone(),
            LineKey::Studio(None) | LineKey::Tool(None) => "Unknown".into(),
            LineKey::Model(None) => "No model".into(),
        }
    }
}

/// Generations, outputs and credits of one line, a figure per period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub key: LineKey,
    pub generations: Vec<i64>,
    pub outputs: Vec<i64>,
    pub credits: Vec<i64>,
    pub refunded_credits: Vec<i64>,
    pub total_credits: i64,
}

/// Generations, outputs, credits and refunded credits.
type Figures = (i64, i64, i64, i64);

impl Line {
    fn zero(key: LineKey, periods: usize) -> Line {
        Line {
            key,
            generations: vec![0; periods],
            outputs: vec![0; periods],
            credits: vec![0; periods],
            refunded_credits: vec![0; periods],
            total_credits: 0,
        }
    }

    fn add(&mut self, at: usize, (generations, outputs, credits, refunded): Figures) {
        self.generations[at] += generations;
        self.outputs[at] += outputs;
        self.credits[at] += credits;
        self.refunded_credits[at] += refunded;
        self.total_credits += credits;
    }

    fn absorb(&mut self, line: &Line) {
        for at in 0..self.credits.len() {
            self.add(at, (line.generations[at], line.outputs[at], line.credits[at], line.refunded_credits[at]));
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    pub periods: Vec<DateTime<Utc>>,
    pub lines: Vec<Line>,
    pub generations: i64,
    pub outputs: i64,
    pub credits: i64,
    pub refunded_credits: i64,
}

impl Series {
    /// The lines of `buckets` (grouped by `request.group()`) over `periods`:
    /// most credits first (ties by key), at most `request.top` of them, then
    /// one `other` line when any is left. Not split: one line, always.
    pub fn new(request: &SeriesRequest, periods: Vec<DateTime<Utc>>, buckets: Vec<Bucket>) -> Series {
        let mut lines: HashMap<LineKey, Line> = HashMap::new();
        if request.by.is_none() {
            lines.insert(LineKey::All, Line::zero(LineKey::All, periods.len()));
        }
        let mut totals: Figures = (0, 0, 0, 0);
        for mut bucket in buckets {
            // Every bucket starts a period of the range: both come from the
            // same local midnights of the same zone.
            let Some(at) = bucket.period_start.and_then(|start| periods.binary_search(&start).ok()) else {
                debug_assert!(false, "a bucket outside the periods: {bucket:?}");
                continue;
            };
            let key = LineKey::of(request.by, &mut bucket);
            let figures = (bucket.generations, bucket.outputs, bucket.credits, bucket.refunded_credits);
            // A year of days has a few dozen lines and thousands of buckets:
            // the key is copied once per line, not once per bucket.
            match lines.get_mut(&key) {
                Some(line) => line.add(at, figures),
                None => {
                    let mut line = Line::zero(key.clone(), periods.len());
                    line.add(at, figures);
                    lines.insert(key, line);
                }
            }
            totals = (totals.0 + figures.0, totals.1 + figures.1, totals.2 + figures.2, totals.3 + figures.3);
        }
        let mut lines: Vec<Line> = lines.into_values().collect();
        lines.sort_unstable_by(|a, b| b.total_credits.cmp(&a.total_credits).then_with(|| a.key.cmp(&b.key)));
        if lines.len() > request.top {
            let mut other = Line::zero(LineKey::Other, periods.len());
            for line in lines.drain(request.top..) {
                other.absorb(&line);
            }
            lines.push(other);
        }
        let (generations, outputs, credits, refunded_credits) = totals;
        Series { periods, lines, generations, outputs, credits, refunded_credits }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn request(period: Period, by: Option<Dimension>, top: i32, zone: &str) -> SeriesRequest {
        SeriesRequest::new(period, by, top, zone.parse().unwrap()).unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first_in_the_zone() {
        let new_york = request(Period::Week, None, 8, "America/New_York");
        // 2026-03-02 is a Monday; 2026-03-08 brings summer time (UTC-4).
        let weeks = new_york.periods(utc(2026, 3, 4, 12), utc(2026, 3, 10, 0)).unwrap();
        assert_eq!(weeks, vec![utc(2026, 3, 2, 5), utc(2026, 3, 9, 4)]);
        let kolkata = request(Period::Month, None, 8, "Asia/Kolkata");
        let months = kolkata.periods(utc(2026, 1, 31, 19), utc(2026, 3, 1, 0)).unwrap();
        let half_past = |y, m, d| utc(y, m, d, 18) + Duration::minutes(30);
        assert_eq!(months, vec![half_past(2026, 1, 31), half_past(2026, 2, 28)]);
    }

    #[test]
    fn the_default_range_is_thirty_local_days_up_to_now() {
        let kolkata = request(Period::Day, None, 8, "Asia/Kolkata");
        let now = utc(2026, 4, 10, 20); // 01:30 on April 11 in Kolkata
        let (range, periods) = kolkata.range(&UsageFilter::default(), now).unwrap();
        assert_eq!(range.from, Some(utc(2026, 3, 12, 18) + Duration::minutes(30)));
        assert_eq!(range.to, Some(now + Duration::milliseconds(1)));
        assert_eq!(periods.len(), 30);
        assert_eq!(periods[29], utc(2026, 4, 10, 18) + Duration::minutes(30));
    }

    #[test]
    fn more_than_a_thousand_periods_is_invalid_input_on_the_filter() {
        let days = request(Period::Day, None, 8, "UTC");
        assert_eq!(days.periods(utc(2026, 1, 1, 0), utc(2026, 1, 1, 0) + Duration::days(1000)).unwrap().len(), 1000);
        let error = days.periods(utc(2026, 1, 1, 0), utc(2026, 1, 1, 0) + Duration::days(1001)).unwrap_err();
        assert!(matches!(error, DomainError::InvalidInput { field: "filter", .. }), "{error:?}");
        assert!(SeriesRequest::new(Period::Day, Some(Dimension::Week), 8, Tz::UTC).is_err());
        assert!(SeriesRequest::new(Period::Day, None, 0, Tz::UTC).is_err());
        assert!(SeriesRequest::new(Period::Day, None, TOP_MAX + 1, Tz::UTC).is_err());
    }

    #[test]
    fn top_lines_by_credits_then_one_other_line() {
        let periods = vec![utc(2026, 3, 1, 0), utc(2026, 3, 2, 0)];
        let bucket = |day: usize, model: &str, credits| Bucket {
            period_start: Some(periods[day]),
            studio: None,
            tool: None,
            model_id: Some(model.to_owned()),
            generations: 1,
            outputs: 2,
            credits,
            refunded_credits: 1,
        };
        let buckets =
            vec![bucket(0, "a", 5), bucket(1, "b", 5), bucket(1, "c", 9), bucket(0, "d", 1), bucket(1, "d", 1)];
        let series = Series::new(&request(Period::Day, Some(Dimension::Model), 2, "UTC"), periods.clone(), buckets);
        let lines: Vec<(String, Vec<i64>, i64)> =
            series.lines.iter().map(|l| (l.key.key(), l.credits.clone(), l.total_credits)).collect();
        assert_eq!(
            lines,
            vec![("model:c".into(), vec![0, 9], 9), ("model:a".into(), vec![5, 0], 5), ("other".into(), vec![1, 6], 7),]
        );
        assert_eq!((series.generations, series.outputs, series.credits, series.refunded_credits), (5, 10, 21, 5));
        let other = series.lines.last().unwrap();
        assert_eq!((other.key.key(), other.refunded_credits.clone()), ("other".into(), vec![1, 2]));
        let all = Series::new(&request(Period::Day, None, 8, "UTC"), periods, Vec::new());
        assert_eq!(all.lines, vec![Line::zero(LineKey::All, 2)]);
    }
}
