//! Which rows serve which part of a summary's time range.
//!
//! Summaries are read from rollups: daily UTC rows, and hourly rows for time
//! zones whose offset is a whole number of hours. In such a zone a local day
//! is a UTC day with a few hours moved in from or out to the next: the daily
//! rows serve, and only the hourly rows of those few hours are read (New
//! York: 5 of every 24). A range that does not fall on bucket boundaries
//! takes its edges from the raw events, so every figure is exact.
//! Daylight-saving changes split a range into runs of one offset.
use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

use crate::domain::analytics::{DAY_MS, HOUR_MS};

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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::super::fold::Row;

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
}
