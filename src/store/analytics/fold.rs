//! How the rows of an analytics read fold into a summary's buckets.
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use foldhash::HashMap as FoldHashMap;

use crate::domain::analytics::{Bucket, GroupBy, Period};
use crate::domain::catalog::StudioKind;
use crate::domain::periods::local_midnight;

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
    pub refunded: i64,
}

impl Row<'_> {
    /// This row's counts taken back from the local day `days` after its own.
    pub fn taken_from(self, days: i64) -> Self {
        Row {
            local_day: self.local_day + days,
            events: -self.events,
            outputs: -self.outputs,
            credits: -self.credits,
            refunded: -self.refunded,
            ..self
        }
    }
}

fn period_start(local_day: i64, period: Period) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    period.start_of(epoch.checked_add_days(Days::new(local_day.max(0) as u64)).unwrap_or(epoch))
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

/// Generations, outputs, credits and refunded credits.
type Counts = (i64, i64, i64, i64);

/// Rows merged into buckets a row at a time, as they arrive: nothing of a
/// row is kept but its numbers, and its names the first time they come.
/// The buckets come out ordered by time, then by credits (most first),
/// then by studio, tool and model.
pub struct Folding {
    group: GroupBy,
    time_zone: Tz,
    names: Names,
    buckets: FoldHashMap<Key, Counts>,
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
        self.count(key, (row.events, row.outputs, row.credits, row.refunded));
    }

    /// Adds events, outputs, credits and refunded credits to a bucket.
    fn count(&mut self, key: Key, (events, outputs, credits, refunded): Counts) {
        let totals = self.buckets.entry(key).or_default();
        *totals = (totals.0 + events, totals.1 + outputs, totals.2 + credits, totals.3 + refunded);
    }

    pub fn finish(self) -> Vec<Bucket> {
        let Folding { group, time_zone, names, buckets, .. } = self;
        // A bucket of wholly refunded generations is kept for its refunds.
        let mut folded: Vec<(Key, Counts)> =
            buckets.into_iter().filter(|(_, (events, _, _, refunded))| *events != 0 || *refunded != 0).collect();
        let names_of = |key: &Key| (names.name(key.1), names.name(key.2), names.name(key.3));
        folded.sort_unstable_by(|(a, (_, _, a_credits, _)), (b, (_, _, b_credits, _))| {
            a.0.cmp(&b.0).then(b_credits.cmp(a_credits)).then_with(|| names_of(a).cmp(&names_of(b)))
        });
        let mut midnight: Option<(NaiveDate, DateTime<Utc>)> = None;
        folded
            .into_iter()
            .map(|(key, (generations, outputs, credits, refunded_credits))| {
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
                    refunded_credits,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;

    use crate::domain::analytics::Dimension;

    use super::*;

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
    }
}
