//! Subscriptions: the entitlements a plan gives, and what happens when a
//! billing period ends (DESIGN.md, rule 9).
use chrono::{DateTime, Utc};

use super::catalog::{Catalog, Plan};
use super::error::DomainError;
use super::periods::period_containing;
use super::pricing::PricedGeneration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionStatus {
    Active,
    /// Ended by a cancellation, at once or at the end of its period.
    Canceled,
    /// Replaced by another plan.
    Expired,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "ACTIVE",
            SubscriptionStatus::Canceled => "CANCELED",
            SubscriptionStatus::Expired => "EXPIRED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [SubscriptionStatus::Active, SubscriptionStatus::Canceled, SubscriptionStatus::Expired]
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub id: i64,
    pub plan_code: String,
    pub status: SubscriptionStatus,
    pub billing_anchor: DateTime<Utc>,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub cancel_at_period_end: bool,
    pub payment_reference: String,
}

impl Subscription {
    pub fn is_active(&self) -> bool {
        self.status == SubscriptionStatus::Active
    }
}

/// What an account may do under its current plan.
#[derive(Clone, Debug)]
pub struct Entitlement {
    /// The plan of the active subscription, or Free.
    pub plan: Plan,
    pub active: bool,
}

impl Entitlement {
    /// What an account whose latest subscription is `subscription` may do:
    /// the plan of that subscription while it is active, Free otherwise. An
    /// active subscription on a plan the catalog no longer has keeps its
    /// standing but gets Free's terms, rather than failing every request of
    /// the account.
    pub fn of(catalog: &Catalog, subscription: Option<&Subscription>) -> Entitlement {
        let active = subscription.filter(|s| s.is_active());
        let plan = active.and_then(|s| catalog.plan(&s.plan_code)).unwrap_or_else(|| catalog.free_plan());
        Entitlement { plan: plan.clone(), active: active.is_some() }
    }

    /// Pro models need an active paid subscription whose plan has Pro access.
    pub fn pro(&self) -> bool {
        self.active && self.plan.pro_access
    }

    /// Pro generations need Pro access, whatever the balance (rule 1).
    pub fn allows(&self, generation: &PricedGeneration) -> Result<(), DomainError> {
        if generation.pro && !self.pro() {
            let model = generation.model_id.clone().unwrap_or_default();
            return Err(DomainError::ProModelRequiresSubscription { model });
        }
        Ok(())
    }

    /// Tokens can be bought only with an active subscription.
    pub fn can_buy_tokens(&self) -> bool {
        self.active && self.plan.can_buy_tokens
    }
}

/// What the end of a billing period does to a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollover {
    Unchanged,
    /// A new period with a new allowance: the one containing `now`, also when
    /// several periods were missed (only the current period is granted).
    Renewed {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    /// Cancelled at period end, and the period is over.
    Ended {
        at: DateTime<Utc>,
    },
}

pub fn rollover(subscription: &Subscription, now: DateTime<Utc>) -> Rollover {
    if !subscription.is_active() || now < subscription.current_period_end {
        return Rollover::Unchanged;
    }
    if subscription.cancel_at_period_end {
        return Rollover::Ended { at: subscription.current_period_end };
    }
    let (start, end) = period_containing(subscription.billing_anchor, now);
    Rollover::Renewed { start, end }
}

/// What `subscribe` does (rule 9), given the account's active subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscribeAction {
    /// No active subscription: one starts now, with the plan's allowance.
    Start,
    /// The plan being cancelled at period end is asked for again: the
    /// cancellation is withdrawn and the period goes on as it was.
    Resume { subscription_id: i64 },
    /// Another plan: the current subscription ends now (`EXPIRED`, its unused
    /// allowance expires) and the new one starts now with its allowance.
    Change { from_subscription_id: i64 },
}

/// Free is where a cancellation leads, never a plan one subscribes to.
/// Checked before the account is opened, and again by [`subscribe_action`].
pub fn subscribable(plan: &Plan) -> Result<(), DomainError> {
    if plan.is_free() {
        return Err(DomainError::invalid("planCode", "Free is not subscribed to: cancel the subscription"));
    }
    Ok(())
}

pub fn subscribe_action(plan: &Plan, active: Option<&Subscription>) -> Result<SubscribeAction, DomainError> {
    subscribable(plan)?;
    match active.filter(|s| s.is_active()) {
        None => Ok(SubscribeAction::Start),
        Some(current) if current.plan_code != plan.code => {
            Ok(SubscribeAction::Change { from_subscription_id: current.id })
        }
        Some(current) if current.cancel_at_period_end => Ok(SubscribeAction::Resume { subscription_id: current.id }),
        Some(_) => Err(DomainError::invalid("planCode", format!("already subscribed to {}", plan.code))),
    }
}

/// What `cancelSubscription` does (rule 9), given the latest subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelAction {
    /// Ends at the end of the period; the allowance stays usable until then.
    AtPeriodEnd { subscription_id: i64 },
    /// Ends now (`CANCELED`); the allowance left expires.
    Now,
    /// Already cancelled: nothing changes and the answer is as the first
    /// time, so a retried cancellation is harmless.
    AlreadyCanceled,
}

pub fn cancel_action(latest: Option<&Subscription>, at_period_end: bool) -> Result<CancelAction, DomainError> {
    match latest {
        Some(current) if current.is_active() && at_period_end => {
            Ok(CancelAction::AtPeriodEnd { subscription_id: current.id })
        }
        Some(current) if current.is_active() => Ok(CancelAction::Now),
        Some(last) if last.status == SubscriptionStatus::Canceled => Ok(CancelAction::AlreadyCanceled),
        _ => Err(DomainError::SubscriptionRequired { action: "cancelling" }),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::error::ErrorCode;

    fn plan(code: &str, pro_access: bool) -> Plan {
        let paid = code != Plan::FREE;
        Plan {
            code: code.into(),
            name: code.into(),
            price_cents: if paid { 900 } else { 0 },
            monthly_credits: if paid { 1_000 } else { 0 },
            pro_access,
            can_buy_tokens: paid,
            rollover_percent: 0,
            rollover_cap: None,
        }
    }

    fn catalog() -> Catalog {
        let plans = vec![plan(Plan::FREE, false), plan("STARTER", false), plan("PRO", true)];
        Catalog::new(vec![], vec![], vec![], vec![], plans, vec![])
    }

    fn subscription(plan_code: &str, status: SubscriptionStatus, cancel_at_period_end: bool) -> Subscription {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        Subscription {
            id: 7,
            plan_code: plan_code.into(),
            status,
            billing_anchor: start,
            current_period_start: start,
            current_period_end: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
            cancel_at_period_end,
            payment_reference: "pay-1".into(),
        }
    }

    use SubscriptionStatus::{Active, Canceled, Expired};

    #[test]
    fn the_active_plan_entitles_and_anything_else_is_free() {
        let catalog = catalog();
        let free = Entitlement::of(&catalog, None);
        assert_eq!(
            (free.plan.code.as_str(), free.active, free.pro(), free.can_buy_tokens()),
            ("FREE", false, false, false)
        );
        let pro = Entitlement::of(&catalog, Some(&subscription("PRO", Active, false)));
        assert_eq!((pro.plan.code.as_str(), pro.active, pro.pro(), pro.can_buy_tokens()), ("PRO", true, true, true));
        let starter = Entitlement::of(&catalog, Some(&subscription("STARTER", Active, true)));
        assert_eq!((starter.pro(), starter.can_buy_tokens()), (false, true), "cancelling keeps the plan until it ends");
        for ended in [Canceled, Expired] {
            let entitlement = Entitlement::of(&catalog, Some(&subscription("PRO", ended, false)));
            assert_eq!((entitlement.plan.code.as_str(), entitlement.active), ("FREE", false));
        }
        let retired = Entitlement::of(&catalog, Some(&subscription("GONE", Active, false)));
        assert_eq!((retired.plan.code.as_str(), retired.active, retired.pro()), ("FREE", true, false));
    }

    #[test]
    fn subscribing_starts_resumes_changes_or_refuses() {
        let (starter, pro, free) = (plan("STARTER", false), plan("PRO", true), plan(Plan::FREE, false));
        assert_eq!(subscribe_action(&starter, None), Ok(SubscribeAction::Start));
        let ended = subscription("STARTER", Canceled, false);
        assert_eq!(subscribe_action(&starter, Some(&ended)), Ok(SubscribeAction::Start));
        let cancelling = subscription("STARTER", Active, true);
        assert_eq!(subscribe_action(&starter, Some(&cancelling)), Ok(SubscribeAction::Resume { subscription_id: 7 }));
        assert_eq!(subscribe_action(&pro, Some(&cancelling)), Ok(SubscribeAction::Change { from_subscription_id: 7 }));
        let current = subscription("STARTER", Active, false);
        let again = subscribe_action(&starter, Some(&current)).unwrap_err();
        assert_eq!(
            (again.code(), again.field(), again.to_string().as_str()),
            (ErrorCode::InvalidInput, Some("planCode"), "already subscribed to STARTER")
        );
        for active in [None, Some(&current)] {
            let refused = subscribe_action(&free, active).unwrap_err();
            assert_eq!((refused.code(), refused.field()), (ErrorCode::InvalidInput, Some("planCode")));
        }
        assert_eq!(subscribable(&starter), Ok(()));
        assert!(subscribable(&free).is_err());
    }

    #[test]
    fn cancelling_ends_at_period_end_or_now_and_twice_is_once() {
        let current = subscription("PRO", Active, false);
        assert_eq!(cancel_action(Some(&current), true), Ok(CancelAction::AtPeriodEnd { subscription_id: 7 }));
        assert_eq!(cancel_action(Some(&current), false), Ok(CancelAction::Now));
        let cancelling = subscription("PRO", Active, true);
        assert_eq!(cancel_action(Some(&cancelling), true), Ok(CancelAction::AtPeriodEnd { subscription_id: 7 }));
        assert_eq!(
            cancel_action(Some(&cancelling), false),
            Ok(CancelAction::Now),
            "at once, also after asking for later"
        );
        let canceled = subscription("PRO", Canceled, false);
        for at_period_end in [true, false] {
            assert_eq!(cancel_action(Some(&canceled), at_period_end), Ok(CancelAction::AlreadyCanceled));
            for nothing in [None, Some(&subscription("PRO", Expired, false))] {
                let refused = cancel_action(nothing, at_period_end).unwrap_err();
                assert_eq!(refused.code(), ErrorCode::SubscriptionRequired);
            }
        }
    }

    #[test]
    fn a_period_renews_unless_cancelled() {
        let current = subscription("PRO", Active, false);
        let during = Utc.with_ymd_and_hms(2026, 1, 20, 0, 0, 0).unwrap();
        assert_eq!(rollover(&current, during), Rollover::Unchanged);
        let after = Utc.with_ymd_and_hms(2026, 2, 3, 0, 0, 0).unwrap();
        assert_eq!(
            rollover(&current, after),
            Rollover::Renewed {
                start: current.current_period_end,
                end: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
            }
        );
        let cancelling = subscription("PRO", Active, true);
        assert_eq!(rollover(&cancelling, after), Rollover::Ended { at: cancelling.current_period_end });
    }
}
