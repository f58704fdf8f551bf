//! Top-ups (DESIGN.md section 7): buying a token pack across systems. The
//! platform asks, the payments backend takes the money, the tokens are
//! granted once; an automatic top-up is asked for when the balance falls
//! below the account's own threshold.
use chrono::{DateTime, Datelike, Utc};

use super::error::DomainError;
use super::money::Credits;

macro_rules! named {
    ($name:ident { $($variant:ident => $text:literal,)* }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($variant,)* }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                [$($name::$variant,)*].into_iter().find(|value| value.as_str() == text)
            }
        }
    };
}

pub(crate) use named;

named!(TopUpStatus { Pending => "PENDING", Succeeded => "SUCCEEDED", Failed => "FAILED", Expired => "EXPIRED", });
named!(TopUpTrigger { Manual => "MANUAL", Automatic => "AUTOMATIC", });

/// Automatic top-ups that fail in a row before they are switched off.
pub const AUTO_TOP_UP_FAILURES_MAX: i32 = 3;
pub const AUTO_TOP_UP_MONTHLY_LIMIT_DEFAULT: i32 = 3;
pub const AUTO_TOP_UP_MONTHLY_LIMIT_MAX: i32 = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopUp {
    pub id: i64,
    pub account_id: String,
    pub pack_id: String,
    pub status: TopUpStatus,
    pub trigger: TopUpTrigger,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub payment_reference: Option<String>,
    pub failure_reason: Option<String>,
}

/// What `completeTopUp` does with a top-up in its state.
#[derive(Debug, PartialEq, Eq)]
pub enum Completion {
    /// Grant the pack's tokens and mark it SUCCEEDED.
    Grant,
    /// Already completed with this reference: answer as the first time.
    Repeat,
}

pub fn completion(top_up: &TopUp, payment_reference: &str) -> Result<Completion, DomainError> {
    match top_up.status {
        // An expired top-up whose money was taken after all is completed.
        TopUpStatus::Pending | TopUpStatus::Expired => Ok(Completion::Grant),
        TopUpStatus::Succeeded if top_up.payment_reference.as_deref() == Some(payment_reference) => {
            Ok(Completion::Repeat)
        }
        TopUpStatus::Succeeded => Err(DomainError::IdempotencyConflict { key: payment_reference.to_owned() }),
        TopUpStatus::Failed => Err(closed(top_up)),
    }
}

/// Whether `failTopUp` marks it failed (false: it already is, answer as is).
pub fn failure(top_up: &TopUp) -> Result<bool, DomainError> {
    match top_up.status {
        TopUpStatus::Pending | TopUpStatus::Expired => Ok(true),
        TopUpStatus::Failed => Ok(false),
        TopUpStatus::Succeeded => Err(closed(top_up)),
    }
}

fn closed(top_up: &TopUp) -> DomainError {
    DomainError::TopUpClosed { id: top_up.id.to_string(), status: top_up.status.as_str().to_lowercase() }
}

/// An account's automatic top-up settings and counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoTopUp {
    pub enabled: bool,
    pub threshold: Credits,
    pub pack_id: Option<String>,
    pub monthly_limit: i32,
    /// The month `requested` counts, `YYYY-MM` in UTC.
    pub month: Option<String>,
    pub requested: i32,
    pub consecutive_failures: i32,
}

impl AutoTopUp {
    /// Automatic top-ups requested in the calendar month of `now`.
    pub fn requested_in(&self, now: DateTime<Utc>) -> i32 {
        if self.month.as_deref() == Some(month_key(now).as_str()) { self.requested } else { 0 }
    }

    /// Whether an automatic top-up is asked for now, given where the
    /// balance was and is (equal when it is just switched on), whether the
    /// account is subscribed and whether a top-up is pending already.
    pub fn due(&self, before: Credits, after: Credits, now: DateTime<Utc>, subscribed: bool, pending: bool) -> bool {
        let crossed = after < self.threshold && (before >= self.threshold || before == after);
        self.enabled
            && self.pack_id.is_some()
            && crossed
            && subscribed
            && !pending
            && self.requested_in(now) < self.monthly_limit
    }
}

/// The calendar month (UTC) automatic top-ups are counted in.
pub fn month_key(now: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", now.year(), now.month())
}

/// The checkout page of a top-up, from the configured template.
pub fn checkout_url(template: Option<&str>, top_up_id: i64) -> Option<String> {
    template.map(|template| template.replace("{topUpId}", &top_up_id.to_string()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn top_up(status: TopUpStatus, reference: Option<&str>) -> TopUp {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        TopUp {
            id: 7,
            account_id: "alice".into(),
            pack_id: "pack_small".into(),
            status,
            trigger: TopUpTrigger::Manual,
            created_at: now,
            expires_at: now,
            completed_at: None,
            payment_reference: reference.map(str::to_owned),
            failure_reason: None,
        }
    }

    #[test]
    fn a_top_up_is_completed_once() {
        use TopUpStatus::*;
        assert_eq!(completion(&top_up(Pending, None), "pay-1"), Ok(Completion::Grant));
        assert_eq!(completion(&top_up(Expired, None), "pay-1"), Ok(Completion::Grant));
        assert_eq!(completion(&top_up(Succeeded, Some("pay-1")), "pay-1"), Ok(Completion::Repeat));
        let other = completion(&top_up(Succeeded, Some("pay-1")), "pay-2").unwrap_err();
        assert_eq!(other.code().as_str(), "IDEMPOTENCY_CONFLICT");
        let failed = completion(&top_up(Failed, None), "pay-1").unwrap_err();
        assert_eq!(failed.code().as_str(), "TOP_UP_CLOSED");
        assert_eq!(failure(&top_up(Pending, None)), Ok(true));
        assert_eq!(failure(&top_up(Failed, None)), Ok(false));
        assert!(failure(&top_up(Succeeded, Some("pay-1"))).is_err());
    }

    #[test]
    fn an_automatic_top_up_is_due_on_a_crossing_within_the_month_limit() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let c = Credits::new;
        let settings = AutoTopUp {
            enabled: true,
            threshold: c(100),
            pack_id: Some("pack_small".into()),
            monthly_limit: 2,
            month: Some("2026-03".into()),
            requested: 1,
            consecutive_failures: 0,
        };
        assert!(settings.due(c(120), c(90), now, true, false));
        // Switched on while below.
        assert!(settings.due(c(50), c(50), now, true, false));
        assert!(!settings.due(c(90), c(80), now, true, false), "already below");
        assert!(!settings.due(c(120), c(100), now, true, false), "at the threshold is not below");
        assert!(!settings.due(c(120), c(90), now, false, false), "not subscribed");
        assert!(!settings.due(c(120), c(90), now, true, true), "one is pending");
        let spent = AutoTopUp { requested: 2, ..settings.clone() };
        assert!(!spent.due(c(120), c(90), now, true, false), "the month's limit is reached");
        let last_month = AutoTopUp { month: Some("2026-02".into()), ..spent };
        assert!(last_month.due(c(120), c(90), now, true, false), "a new month counts from zero");
        let off = AutoTopUp { enabled: false, ..settings };
        assert!(!off.due(c(120), c(90), now, true, false));
    }

    #[test]
    fn the_checkout_url_names_the_top_up() {
        let template = Some("https://pay.example/checkout?topup={topUpId}");
        assert_eq!(checkout_url(template, 42).as_deref(), Some("https://pay.example/checkout?topup=42"));
        assert_eq!(checkout_url(None, 42), None);
    }
}
