//! The one clock every rule reads. Production uses the system time; tests set
//! it, so that day boundaries, period ends and hold time-outs are crossed
//! without sleeping. Read it once per request at the edge and pass `now` down.
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Debug)]
pub struct Clock(Arc<Source>);

#[derive(Debug)]
enum Source {
    System,
    /// Milliseconds since the epoch.
    Manual(AtomicI64),
}

impl Clock {
    pub fn system() -> Self {
        Clock(Arc::new(Source::System))
    }

    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock(Arc::new(Source::Manual(AtomicI64::new(start.timestamp_millis()))))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &*self.0 {
            Source::System => Utc::now(),
            Source::Manual(ms) => from_ms(ms.load(Ordering::SeqCst)),
        }
    }

    /// Sets a manual clock; a system clock ignores it.
    pub fn set(&self, now: DateTime<Utc>) {
        if let Source::Manual(ms) = &*self.0 {
            ms.store(now.timestamp_millis(), Ordering::SeqCst);
        }
    }

    pub fn advance(&self, by: Duration) {
        if let Source::Manual(ms) = &*self.0 {
            ms.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
        }
    }
}

/// Times are stored as milliseconds since the epoch: they compare the same on
/// SQLite and PostgreSQL and keep keyset indexes on plain integers.
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}
