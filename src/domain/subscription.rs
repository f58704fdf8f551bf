//! Subscriptions: the entitlements a plan gives, and what happens when a
//! billing period ends (DESIGN.md, rule 9).
use chrono::{DateTime, Utc};

use super::catalog::Plan;
use super::periods::period_containing;
use super::pricing::PricedGeneration;
use crate::error::DomainError;

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
