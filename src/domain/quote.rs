//! The verdict of a quote: whether the caller could run a generation now, and
//! if not, why. The checks are a charge's, in a charge's order (the plan's
//! entitlement, the spend limits, then the balance), so a quote that says "allowed" is a
//! charge that would succeed, and a refusal names the charge's own code.
use super::catalog::Catalog;
use super::error::DomainError;
use super::money::Credits;
use super::pricing::PricedGeneration;
use super::rules::Rules;
use super::spend_limits::{Limits, admit};
use super::subscription::Entitlement;

/// What an account may spend now, on standard and on Pro generations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spendable {
    pub balance: Credits,
    pub pro_balance: Credits,
}

/// Whom a quote answers for, as of now.
#[derive(Clone, Debug)]
pub struct Payer {
    pub entitlement: Entitlement,
    pub spendable: Spendable,
    /// The spend limits that apply, and what today's count holds.
    pub limits: Limits,
    pub spent_today: Credits,
}

impl Payer {
    /// A caller without an account (anonymous) is answered as a new Free
    /// account: the day's free credits, which never pay for Pro.
    pub fn new_account(catalog: &Catalog, rules: &Rules) -> Payer {
        Payer {
            entitlement: Entitlement::of(catalog, None),
            spendable: Spendable { balance: rules.daily_free_credits, pro_balance: Credits::ZERO },
            limits: Limits::default(),
            spent_today: Credits::ZERO,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Credits that could pay for this generation now.
    pub available: Credits,
    /// Why it could not run now; `None` when it could.
    pub refusal: Option<DomainError>,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        self.refusal.is_none()
    }
}

pub fn verdict(generation: &PricedGeneration, payer: &Payer) -> Verdict {
    let Spendable { balance, pro_balance } = payer.spendable;
    let available = if generation.pro { pro_balance } else { balance };
    let refusal = payer
        .entitlement
        .allows(generation)
        .and_then(|()| admit(&payer.limits, payer.spent_today, generation.credits))
        .err()
        .or_else(|| {
            (available < generation.credits)
                .then_some(DomainError::InsufficientCredits { needed: generation.credits, available })
        });
    Verdict { available, refusal }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::{Plan, StudioKind};
    use crate::domain::error::ErrorCode;

    fn generation(credits: i64, pro: bool) -> PricedGeneration {
        PricedGeneration {
            studio: StudioKind::Image,
            tool: "text-to-image".into(),
            model_id: Some(if pro { "flux-pro" } else { "sdxl" }.into()),
            pro,
            count: 1,
            units: None,
            options: vec![],
            credits_per_output: Credits::new(credits),
            credits: Credits::new(credits),
            unit_price_millicredits: credits * 1_000,
            catalog_version: 1,
        }
    }

    fn payer(pro_access: bool, active: bool, balance: i64, pro_balance: i64) -> Payer {
        let plan = Plan {
            code: "PRO".into(),
            name: "Pro".into(),
            price_cents: 2_900,
            monthly_credits: 3_000,
            pro_access,
            can_buy_tokens: true,
            rollover_percent: 0,
            rollover_cap: None,
        };
        Payer {
            entitlement: Entitlement { plan, active },
            spendable: Spendable { balance: Credits::new(balance), pro_balance: Credits::new(pro_balance) },
            limits: Limits::default(),
            spent_today: Credits::ZERO,
        }
    }

    fn code(verdict: &Verdict) -> Option<ErrorCode> {
        verdict.refusal.as_ref().map(DomainError::code)
    }

    #[test]
    fn allowed_when_entitled_and_enough_credits_pay_for_it() {
        let verdict = verdict(&generation(30, false), &payer(false, false, 30, 0));
        assert!(verdict.allowed());
        assert_eq!(verdict.available, Credits::new(30));
        let pro = super::verdict(&generation(100, true), &payer(true, true, 500, 100));
        assert_eq!((pro.allowed(), pro.available), (true, Credits::new(100)), "Pro is paid from the Pro balance");
    }

    #[test]
    fn the_plan_is_checked_before_the_balance() {
        for entitled in [payer(false, true, 0, 0), payer(true, false, 0, 0)] {
            let verdict = verdict(&generation(10, true), &entitled);
            assert_eq!(code(&verdict), Some(ErrorCode::ProModelRequiresSubscription), "{entitled:?}");
        }
    }

    #[test]
    fn a_spend_limit_refuses_after_the_plan_and_before_the_balance() {
        let mut limited = payer(false, false, 5, 0);
        limited.limits = Limits { daily: Some(Credits::new(100)), per_generation: None };
        limited.spent_today = Credits::new(95);
        assert_eq!(code(&verdict(&generation(6, false), &limited)), Some(ErrorCode::SpendLimitReached));
        assert_eq!(code(&verdict(&generation(6, true), &limited)), Some(ErrorCode::ProModelRequiresSubscription));
        assert!(verdict(&generation(5, false), &limited).allowed());
        limited.limits.per_generation = Some(Credits::new(4));
        assert_eq!(code(&verdict(&generation(5, false), &limited)), Some(ErrorCode::SpendLimitReached));
    }

    #[test]
    fn short_of_credits_says_how_many_were_needed_and_there() {
        let verdict = verdict(&generation(31, false), &payer(false, false, 30, 0));
        assert_eq!(
            verdict.refusal,
            Some(DomainError::InsufficientCredits { needed: Credits::new(31), available: Credits::new(30) })
        );
        let pro = super::verdict(&generation(20, true), &payer(true, true, 500, 10));
        assert_eq!((code(&pro), pro.available), (Some(ErrorCode::InsufficientCredits), Credits::new(10)));
    }

    #[test]
    fn a_new_account_has_the_days_free_credits_on_free_and_nothing_for_pro() {
        let catalog = Catalog::default();
        let rules = Rules::default();
        let new = Payer::new_account(&catalog, &rules);
        assert_eq!((new.entitlement.plan.code.as_str(), new.entitlement.active), (Plan::FREE, false));
        assert_eq!(new.spendable, Spendable { balance: rules.daily_free_credits, pro_balance: Credits::ZERO });
        assert!(verdict(&generation(rules.daily_free_credits.get(), false), &new).allowed());
        let pro = verdict(&generation(1, true), &new);
        assert_eq!(code(&pro), Some(ErrorCode::ProModelRequiresSubscription));
    }
}
