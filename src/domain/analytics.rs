//! Usage analytics as pure functions: how a summary groups, which rows
//! serve which part of a time range, and how rows fold into buckets.
//!
//! Summaries are read from rollups: daily UTC rows, and hourly rows for time
//! zones whose offset is a whole number of hours. In such a zone a local day
//! is a UTC day with a few hours moved in from or out to the next: the daily
//! rows serve, and only the hourly rows of those few hours are read (New
//! York: 5 of every 24). A range that does not fall on bucket boundaries
//! takes its edges from the raw events, so every figure is exact.
//! Daylight-saving changes split a range into runs of one offset.

use chrono::{DateTime, Datelike, Days, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use foldhash::HashMap as FoldHashMap;

use super::catalog::StudioKind;
use super::periods::local_midnight;
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
        let text = format!("{:?}", canonical);
        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        format!("{hash:016x}")
    }
}

/// A run of time `[start_ms, end_ms)` during which `time_zone` has one offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetRun {
    pub start_ms: i64,
    pub end_ms: i64,
    pub offset_ms: i64,
}

fn offset_ms(time_zone: Tz, at_ms: i64) -> i64 {
    let at = DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    i64::from(time_zone.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc()) * 1_000
}

/// Splits `[start_ms, end_ms)` where the zone's offset changes (to the hour:
/// every real transition happens on one).
pub fn offset_runs(time_zone: Tz, start_ms: i64, end_ms: i64) -> Vec<OffsetRun> {
    let mut runs = Vec::new();
    let mut run = OffsetRun { start_ms, end_ms, offset_ms: offset_ms(time_zone, start_ms) };
    let mut day = start_ms.div_euclid(DAY_MS) * DAY_MS;
    while day < end_ms {
        let next_day = day + DAY_MS;
        if offset_ms(time_zone, next_day.min(end_ms - 1)) != run.offset_ms {
            let mut hour = day.max(start_ms).div_euclid(HOUR_MS) * HOUR_MS;
            while offset_ms(time_zone, hour) == run.offset_ms {
                hour += HOUR_MS;
            }
            let change = hour.max(start_ms);
            runs.push(OffsetRun { end_ms: change, ..run });
            run = OffsetRun { start_ms: change, end_ms, offset_ms: offset_ms(time_zone, change) };
            continue;
        }
        day = next_day;
    }
    runs.push(run);
    runs.retain(|r| r.start_ms < r.end_ms);
    runs
}

/// Where the rows of a piece of a range come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Rollup rows of this bucket size.
    Rollup {
        bucket_ms: i64,
    },
    /// The hourly rollup rows of part of each UTC day of the piece, which
    /// its daily rows counted in a neighbouring local day: each row counts
    /// in its own local day and is taken back from that neighbour.
    Moved(DayPart),
    Events,
}

/// The first or the last hours of a UTC day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayPart {
    Head { hours: i64 },
    Tail { hours: i64 },
}

impl DayPart {
    /// Where the daily rows counted these hours: in the local day after
    /// their own (the head of a UTC day) or before it (the tail).
    pub fn counted_in(self) -> i64 {
        match self {
            DayPart::Head { .. } => 1,
            DayPart::Tail { .. } => -1,
        }
    }

    /// Where these hours start and end, from the start of their UTC day.
    pub fn span_ms(self) -> (i64, i64) {
        match self {
            DayPart::Head { hours } => (0, hours * HOUR_MS),
            DayPart::Tail { hours } => (DAY_MS - hours * HOUR_MS, DAY_MS),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub start_ms: i64,
    pub end_ms: i64,
    pub offset_ms: i64,
    pub source: Source,
}

/// Pieces of a run. Without a period to group by the offset does not
/// matter, so the daily rows always serve. With a whole number of hours
/// between UTC and local midnight, the whole UTC days come from the daily
/// rows, each counted in the local day it shares most hours with, and the
/// hourly rows of the hours it shares with the next or the previous local
/// day, moved there. Otherwise, and at the edges, see `bucket_pieces`.
pub fn pieces(run: OffsetRun, grouped_by_period: bool) -> Vec<Piece> {
    let offset_ms = if grouped_by_period { run.offset_ms } else { 0 };
    let first_day = run.start_ms.div_euclid(DAY_MS) * DAY_MS + if run.start_ms % DAY_MS == 0 { 0 } else { DAY_MS };
    let last_day = run.end_ms.div_euclid(DAY_MS) * DAY_MS;
    // From a UTC midnight to the next local one.
    let to_local_midnight = (-offset_ms).rem_euclid(DAY_MS);
    if to_local_midnight == 0 || to_local_midnight % HOUR_MS != 0 || first_day >= last_day {
        return bucket_pieces(run, offset_ms);
    }
    let (days_offset_ms, part) = if to_local_midnight <= DAY_MS / 2 {
        (offset_ms + to_local_midnight, DayPart::Head { hours: to_local_midnight / HOUR_MS })
    } else {
        (offset_ms, DayPart::Tail { hours: (DAY_MS - to_local_midnight) / HOUR_MS })
    };
    let mut pieces = bucket_pieces(OffsetRun { end_ms: first_day, ..run }, offset_ms);
    pieces.push(Piece {
        start_ms: first_day,
        end_ms: last_day,
        offset_ms: days_offset_ms,
        source: Source::Rollup { bucket_ms: DAY_MS },
    });
    pieces.push(Piece { start_ms: first_day, end_ms: last_day, offset_ms, source: Source::Moved(part) });
    pieces.extend(bucket_pieces(OffsetRun { start_ms: last_day, ..run }, offset_ms));
    pieces
}

/// Pieces of a run: the whole buckets from the rollups, the edges from the
/// events.
fn bucket_pieces(run: OffsetRun, offset_ms: i64) -> Vec<Piece> {
    if run.start_ms >= run.end_ms {
        return Vec::new();
    }
    let bucket_ms = match offset_ms {
        o if o % DAY_MS == 0 => Some(DAY_MS),
        o if o % HOUR_MS == 0 => Some(HOUR_MS),
        _ => None,
    };
    let piece = |start_ms, end_ms, source| Piece { start_ms, end_ms, offset_ms, source };
    let Some(bucket_ms) = bucket_ms else {
        return vec![piece(run.start_ms, run.end_ms, Source::Events)];
    };
    let first =
        run.start_ms.div_euclid(bucket_ms) * bucket_ms + if run.start_ms % bucket_ms == 0 { 0 } else { bucket_ms };
    let last = run.end_ms.div_euclid(bucket_ms) * bucket_ms;
    if first >= last {
        return vec![piece(run.start_ms, run.end_ms, Source::Events)];
    }
    [
        piece(run.start_ms, first, Source::Events),
        piece(first, last, Source::Rollup { bucket_ms }),
        piece(last, run.end_ms, Source::Events),
    ]
    .into_iter()
    .filter(|p| p.start_ms < p.end_ms)
    .collect()
}

/// Usage aggregated by local day (days since 1970-01-01 in the zone) and
/// the grouped dimensions (empty strings for the others).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Row<'a> {
    pub local_day: i64,
    pub studio: &'a str,
    pub tool: &'a str,
    pub model_id: &'a str,
    pub events: i64,
    pub outputs: i64,
    pub credits: i64,
}

impl Row<'_> {
    /// This row's counts taken back from the local day `days` after its own.
    pub fn taken_from(self, days: i64) -> Self {
        Row {
            local_day: self.local_day + days,
            events: -self.events,
            outputs: -self.outputs,
            credits: -self.credits,
            ..self
        }
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
    pub credits: i64,
}

fn period_start(local_day: i64, period: Period) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let date = epoch.checked_add_days(Days::new(local_day.max(0) as u64)).unwrap_or(epoch);
    match period {
        Period::Day => date,
        Period::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
        Period::Month => date.with_day(1).unwrap_or(date),
    }
}

/// Studio, tool and model names as small numbers: a summary's rows name a
/// few dozen of them, so its buckets are keyed by numbers. The empty name
/// (a dimension not grouped by) is 0 without a lookup: glibc's memcmp took
/// ~85 ns to compare two empty strings here, most of a fold's time.
struct Names {
    ids: FoldHashMap<String, u32>,
    names: Vec<String>,
}

impl Default for Names {
    fn default() -> Self {
        Names { ids: FoldHashMap::default(), names: vec![String::new()] }
    }
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

type Key = (Option<NaiveDate>, u32, u32, u32);

/// Rows merged into buckets a row at a time, as they arrive: nothing of a
/// row is kept but its numbers, and its names the first time they come.
/// The buckets come out ordered by time, then by credits (most first),
/// then by studio, tool and model.
pub struct Folding {
    group: GroupBy,
    time_zone: Tz,
    names: Names,
    buckets: FoldHashMap<Key, (i64, i64, i64)>,
    /// Rows come mostly in time order, a moved hour's alternating between
    /// two days: the periods of the last two days are kept.
    last_periods: [Option<(i64, Option<NaiveDate>)>; 2],
}

impl Folding {
    pub fn new(group: GroupBy, time_zone: Tz) -> Folding {
        Folding { group, time_zone, names: Names::default(), buckets: FoldHashMap::default(), last_periods: [None; 2] }
    }

    pub fn add(&mut self, row: Row<'_>) {
        let kept = self.last_periods.iter().flatten().find(|(day, _)| *day == row.local_day);
        let period = match kept {
            Some(&(_, period)) => period,
            None => {
                let period = self.group.period.map(|p| period_start(row.local_day, p));
                self.last_periods = [Some((row.local_day, period)), self.last_periods[0]];
                period
            }
        };
        let names = &mut self.names;
        let key = (period, names.id(row.studio), names.id(row.tool), names.id(row.model_id));
        self.count(key, (row.events, row.outputs, row.credits));
    }

    /// Adds events, outputs and credits to a bucket.
    fn count(&mut self, key: Key, (events, outputs, credits): (i64, i64, i64)) {
        let totals = self.buckets.entry(key).or_default();
        *totals = (totals.0 + events, totals.1 + outputs, totals.2 + credits);
    }

    /// A folding of the same grouping with nothing in it, for rows read apart.
    pub fn empty_like(&self) -> Folding {
        Folding::new(self.group, self.time_zone)
    }

    /// Adds the buckets that `other` folded of other rows.
    pub fn absorb(&mut self, other: Folding) {
        let Folding { names: their, buckets, .. } = other;
        for ((period, studio, tool, model), counts) in buckets {
            let names = &mut self.names;
            let key = (period, names.id(their.name(studio)), names.id(their.name(tool)), names.id(their.name(model)));
            self.count(key, counts);
        }
    }

    pub fn finish(self) -> Vec<Bucket> {
        let Folding { group, time_zone, names, buckets, .. } = self;
        let mut folded: Vec<(Key, (i64, i64, i64))> =
            buckets.into_iter().filter(|(_, (events, _, _))| *events != 0).collect();
        let names_of = |key: &Key| (names.name(key.1), names.name(key.2), names.name(key.3));
        folded.sort_unstable_by(|(a, (_, _, a_credits)), (b, (_, _, b_credits))| {
            a.0.cmp(&b.0).then(b_credits.cmp(a_credits)).then_with(|| names_of(a).cmp(&names_of(b)))
        });
        let mut midnight: Option<(NaiveDate, DateTime<Utc>)> = None;
        folded
            .into_iter()
            .map(|(key, (generations, outputs, credits))| {
                let (studio, tool, model_id) = names_of(&key);
                Bucket {
                    period_start: key.0.map(|d| match midnight {
                        Some((day, at)) if day == d => at,
                        _ => midnight.insert((d, local_midnight(d, time_zone))).1,
                    }),
                    studio: if group.studio { StudioKind::parse(studio) } else { None },
                    tool: group.tool.then(|| tool.to_owned()),
                    model_id: (group.model && !model_id.is_empty()).then(|| model_id.to_owned()),
                    generations,
                    outputs,
                    credits,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i32, m: u32, d: u32, h: u32) -> i64 {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().timestamp_millis()
    }

    #[test]
    fn a_daylight_saving_change_splits_the_range() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let runs = offset_runs(tz, ms(2026, 3, 1, 0), ms(2026, 4, 1, 0));
        // Summer time from 2026-03-29 01:00 UTC.
        assert_eq!(
            runs,
            vec![
                OffsetRun { start_ms: ms(2026, 3, 1, 0), end_ms: ms(2026, 3, 29, 1), offset_ms: HOUR_MS },
                OffsetRun { start_ms: ms(2026, 3, 29, 1), end_ms: ms(2026, 4, 1, 0), offset_ms: 2 * HOUR_MS },
            ]
        );
        assert_eq!(offset_runs(Tz::UTC, 0, ms(2027, 1, 1, 0)).len(), 1);
    }

    #[test]
    fn whole_buckets_come_from_rollups_and_edges_from_events() {
        let run = OffsetRun { start_ms: ms(2026, 3, 1, 5), end_ms: ms(2026, 3, 4, 7), offset_ms: 0 };
        let sources: Vec<(i64, i64, Source)> =
            pieces(run, true).into_iter().map(|p| (p.start_ms, p.end_ms, p.source)).collect();
        assert_eq!(
            sources,
            vec![
                (ms(2026, 3, 1, 5), ms(2026, 3, 2, 0), Source::Events),
                (ms(2026, 3, 2, 0), ms(2026, 3, 4, 0), Source::Rollup { bucket_ms: DAY_MS }),
                (ms(2026, 3, 4, 0), ms(2026, 3, 4, 7), Source::Events),
            ]
        );
        let tokyo = OffsetRun { offset_ms: 9 * HOUR_MS, ..run };
        assert!(pieces(tokyo, true).iter().any(|p| p.source == Source::Rollup { bucket_ms: HOUR_MS }));
        let india = OffsetRun { offset_ms: 5 * HOUR_MS + HOUR_MS / 2, ..run };
        assert_eq!(pieces(india, true).iter().map(|p| p.source).collect::<Vec<_>>(), vec![Source::Events]);
        assert!(pieces(india, false).iter().any(|p| p.source == Source::Rollup { bucket_ms: DAY_MS }));
    }

    #[test]
    fn whole_utc_days_move_the_hours_they_share_with_a_neighbouring_local_day() {
        let run = OffsetRun { start_ms: ms(2026, 3, 1, 5), end_ms: ms(2026, 3, 4, 7), offset_ms: -5 * HOUR_MS };
        let of = |run| -> Vec<(i64, i64, i64, Source)> {
            pieces(run, true).into_iter().map(|p| (p.start_ms, p.end_ms, p.offset_ms, p.source)).collect()
        };
        // New York: a UTC day is counted in the local day it starts at 19:00
        // of (the day before it, minus 5 hours); its first 5 hours move back.
        let hours = Source::Rollup { bucket_ms: HOUR_MS };
        assert_eq!(
            of(run),
            vec![
                (ms(2026, 3, 1, 5), ms(2026, 3, 2, 0), -5 * HOUR_MS, hours),
                (ms(2026, 3, 2, 0), ms(2026, 3, 4, 0), 0, Source::Rollup { bucket_ms: DAY_MS }),
                (ms(2026, 3, 2, 0), ms(2026, 3, 4, 0), -5 * HOUR_MS, Source::Moved(DayPart::Head { hours: 5 })),
                (ms(2026, 3, 4, 0), ms(2026, 3, 4, 7), -5 * HOUR_MS, hours),
            ]
        );
        assert_eq!(DayPart::Head { hours: 5 }.span_ms(), (0, 5 * HOUR_MS));
        assert_eq!(DayPart::Head { hours: 5 }.counted_in(), 1);
        // Tokyo: a UTC day is counted in the local day it starts in; its
        // last 9 hours move on to the next.
        let tokyo = of(OffsetRun { offset_ms: 9 * HOUR_MS, ..run });
        assert_eq!(tokyo[1], (ms(2026, 3, 2, 0), ms(2026, 3, 4, 0), 9 * HOUR_MS, Source::Rollup { bucket_ms: DAY_MS }));
        assert_eq!(tokyo[2].3, Source::Moved(DayPart::Tail { hours: 9 }));
        assert_eq!(DayPart::Tail { hours: 9 }.span_ms(), (15 * HOUR_MS, DAY_MS));
        assert_eq!(DayPart::Tail { hours: 9 }.counted_in(), -1);
        // No whole UTC day: hours and events only.
        let short = OffsetRun { start_ms: ms(2026, 3, 1, 5), end_ms: ms(2026, 3, 2, 7), offset_ms: -5 * HOUR_MS };
        assert!(pieces(short, true).iter().all(|p| p.source == hours));
        // A row moved is taken back from its neighbour in full.
        let row = Row { local_day: 10, model_id: "m", events: 2, outputs: 3, credits: 4, ..Row::default() };
        let back = Row { local_day: 11, events: -2, outputs: -3, credits: -4, ..row };
        assert_eq!(row.taken_from(1), back);
    }

    #[test]
    fn rows_fold_into_weeks_ordered_by_time_then_credits() {
        let day = |d: u32| {
            (NaiveDate::from_ymd_opt(2026, 3, d).unwrap() - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days()
        };
        let row = |d, model: &'static str, credits| Row {
            local_day: day(d),
            model_id: model,
            events: 1,
            outputs: 1,
            credits,
            ..Row::default()
        };
        let group = GroupBy::new(&[Dimension::Week, Dimension::Model]).unwrap();
        // 2026-03-09 is a Monday.
        let mut folding = Folding::new(group, Tz::UTC);
        for row in [row(9, "a", 5), row(15, "a", 5), row(10, "b", 20), row(16, "a", 1)] {
            folding.add(row);
        }
        let buckets = folding.finish();
        let summary: Vec<(u32, Option<&str>, i64)> =
            buckets.iter().map(|b| (b.period_start.unwrap().day(), b.model_id.as_deref(), b.credits)).collect();
        assert_eq!(summary, vec![(9, Some("b"), 20), (9, Some("a"), 10), (16, Some("a"), 1)]);
        assert!(GroupBy::new(&[Dimension::Day, Dimension::Month]).is_err());

        // Rows folded in two parts, each with names of its own, then
        // absorbed: the same buckets.
        let rows = [row(9, "a", 5), row(15, "a", 5), row(10, "b", 20), row(16, "a", 1), row(16, "c", 2)];
        let mut whole = Folding::new(group, Tz::UTC);
        rows.iter().for_each(|row| whole.add(*row));
        let whole = whole.finish();
        for split in 0..=rows.len() {
            let mut first = Folding::new(group, Tz::UTC);
            let mut second = first.empty_like();
            rows[split..].iter().for_each(|row| first.add(*row));
            rows[..split].iter().for_each(|row| second.add(*row));
            first.absorb(second);
            assert_eq!(first.finish(), whole, "split at {split}");
        }
    }

    #[test]
    fn fingerprints_ignore_list_order_but_not_values() {
        let a = UsageFilter { tools: Some(vec!["x".into(), "y".into()]), ..UsageFilter::default() };
        let b = UsageFilter { tools: Some(vec!["y".into(), "x".into()]), ..UsageFilter::default() };
        let c = UsageFilter { tools: Some(vec!["x".into()]), ..UsageFilter::default() };
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
