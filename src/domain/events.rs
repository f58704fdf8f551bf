//! What happened to an account, told to the platform's other backends
//! (DESIGN.md section 6): the event types, their data, and the rules that
//! decide when a movement of credits is worth an event.
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::lots::{CreditSource, Lot};
use super::money::Credits;

macro_rules! event_types {
    ($($variant:ident => $name:literal,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventType { $($variant,)* }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name,)* }
            }
        }
    };
}

event_types! {
    BalanceLow => "balance.low",
    BalanceRecovered => "balance.recovered",
    BalanceDepleted => "balance.depleted",
    CreditsExpiring => "credits.expiring",
    CreditsExpired => "credits.expired",
    SubscriptionStarted => "subscription.started",
    SubscriptionRenewed => "subscription.renewed",
    SubscriptionCanceled => "subscription.canceled",
    SubscriptionEnded => "subscription.ended",
    TokensPurchased => "tokens.purchased",
    TopUpRequested => "topup.requested",
    TopUpSucceeded => "topup.succeeded",
    TopUpFailed => "topup.failed",
    TopUpExpired => "topup.expired",
    AutoTopUpDisabled => "auto_topup.disabled",
    ReservationExpired => "reservation.expired",
    UsageRefunded => "usage.refunded",
    SpendLimitReached => "spend_limit.reached",
}

impl EventType {
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.iter().copied().find(|t| t.as_str() == name)
    }
}

/// An event before it is stored: the store adds the account, its sequence
/// and the time.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub event_type: EventType,
    /// Its `data`, without `accountId`.
    pub data: Value,
}

impl Event {
    pub fn new(event_type: EventType, data: Value) -> Event {
        Event { event_type, data }
    }
}

/// Times in event data: RFC 3339, UTC, milliseconds.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The events of a movement that takes `balance` from `before` to `after`:
/// `balance.low` and `balance.recovered` once per crossing of `threshold`,
/// `balance.depleted` when it reaches zero.
pub fn balance_crossings(before: Credits, after: Credits, threshold: Credits) -> Vec<Event> {
    let data = || json!({ "balance": after.get(), "threshold": threshold.get() });
    let mut events = Vec::new();
    if before >= threshold && after < threshold {
        events.push(Event::new(EventType::BalanceLow, data()));
    }
    if before < threshold && after >= threshold {
        events.push(Event::new(EventType::BalanceRecovered, data()));
    }
    if before.is_positive() && !after.is_positive() {
        events.push(Event::new(EventType::BalanceDepleted, json!({})));
    }
    events
}

/// Lots whose expiry is announced: what a plan or an admin granted for a time.
pub fn announces_expiry(source: CreditSource) -> bool {
    matches!(source, CreditSource::Subscription | CreditSource::Promo | CreditSource::Rollover)
}

/// Whether `lot`'s expiry is within the notice window at `now`.
pub fn expiry_due_for_notice(lot: &Lot, now: DateTime<Utc>, window: chrono::Duration) -> bool {
    announces_expiry(lot.source)
        && lot.remaining.is_positive()
        && lot.expires_at.is_some_and(|at| at > now && at <= now + window)
}

/// `credits.expiring` for `lot`, unless what is left once it (and every lot
/// expiring no later) has expired stays at or above `threshold`. Daily free
/// credits count as staying: a new day brings as many again.
pub fn expiring_notice(lot: &Lot, lots: &[Lot], balance: Credits, threshold: Credits) -> Option<Event> {
    let expires_at = lot.expires_at?;
    let leaving: Credits = lots
        .iter()
        .filter(|other| other.source != CreditSource::DailyFree && other.remaining.is_positive())
        .filter(|other| other.expires_at.is_some_and(|at| at <= expires_at))
        .map(|other| other.remaining)
        .sum();
    let left = balance.checked_sub(leaving).unwrap_or(Credits::ZERO);
    (left < threshold).then(|| {
        Event::new(
            EventType::CreditsExpiring,
            json!({
                "lotId": lot.id.to_string(),
                "source": lot.source.as_str(),
                "remaining": lot.remaining.get(),
                "expiresAt": timestamp(expires_at),
            }),
        )
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn types(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|e| e.event_type.as_str()).collect()
    }

    #[test]
    fn a_crossing_is_told_once_in_each_direction() {
        let c = Credits::new;
        // (before, after, threshold, events)
        let cases: [(i64, i64, i64, &[&str]); 9] = [
            (30, 10, 20, &["balance.low"]),
            (20, 19, 20, &["balance.low"]),
            (19, 10, 20, &[]),
            (10, 20, 20, &["balance.recovered"]),
            (10, 19, 20, &[]),
            (30, 25, 20, &[]),
            (30, 0, 20, &["balance.low", "balance.depleted"]),
            (5, 0, 20, &["balance.depleted"]),
            (0, 0, 0, &[]),
        ];
        for (before, after, threshold, expected) in cases {
            assert_eq!(types(&balance_crossings(c(before), c(after), c(threshold))), expected, "{before}->{after}");
        }
    }

    #[test]
    fn an_expiry_is_announced_only_when_it_leaves_the_balance_low() {
        let now = Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap();
        let lot = |id, source, remaining, hours: Option<i64>| Lot {
            id,
            source,
            granted: Credits::new(100),
            remaining: Credits::new(remaining),
            expires_at: hours.map(|h| now + Duration::hours(h)),
            pro_eligible: true,
            created_at: now,
        };
        let expiring = lot(1, CreditSource::Subscription, 80, Some(48));
        let tokens = lot(2, CreditSource::Tokens, 30, None);
        let earlier = lot(3, CreditSource::Promo, 15, Some(24));
        let daily = lot(8, CreditSource::DailyFree, 50, Some(12));
        let window = Duration::hours(72);
        assert!(expiry_due_for_notice(&expiring, now, window));
        assert!(!expiry_due_for_notice(&lot(4, CreditSource::Subscription, 80, Some(73)), now, window));
        assert!(!expiry_due_for_notice(&lot(5, CreditSource::DailyFree, 80, Some(1)), now, window));
        assert!(!expiry_due_for_notice(&lot(6, CreditSource::Promo, 0, Some(1)), now, window));
        let lots = [expiring.clone(), tokens.clone()];
        // 30 left after it: below 40, at 30, above 20.
        assert!(expiring_notice(&expiring, &lots, Credits::new(110), Credits::new(40)).is_some());
        assert!(expiring_notice(&expiring, &lots, Credits::new(110), Credits::new(30)).is_none());
        assert!(expiring_notice(&expiring, &lots, Credits::new(110), Credits::new(20)).is_none());
        // A lot expiring earlier leaves too; daily free credits stay: 80 left.
        let alone = [expiring.clone(), lot(2, CreditSource::Tokens, 45, None)];
        assert!(expiring_notice(&expiring, &alone, Credits::new(125), Credits::new(40)).is_none());
        let lots = [expiring.clone(), tokens, earlier, daily];
        let notice = expiring_notice(&expiring, &lots, Credits::new(175), Credits::new(90)).unwrap();
        assert_eq!(notice.data["remaining"], 80);
        assert_eq!(notice.data["lotId"], "1");
    }

    #[test]
    fn event_names_are_unique_and_parse_back() {
        for event_type in EventType::ALL {
            assert_eq!(EventType::parse(event_type.as_str()), Some(*event_type));
        }
        assert_eq!(EventType::parse("balance.lo"), None);
    }
}
