//! The kinds of ledger entry. Every movement of credits is one entry on one
//! lot, appended, never updated (DESIGN.md, rule 8).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerKind {
    DailyGrant,
    SubscriptionGrant,
    Purchase,
    PromoGrant,
    Consume,
    Expire,
    /// Credits taken from a lot into a hold.
    Hold,
    /// Held credits given back to their lot (release, time-out, or the part
    /// of a hold a capture did not charge).
    Release,
    /// A refunded generation's credits given back to their lot.
    Refund,
    /// Unused allowance carried into a new period, as a ROLLOVER lot.
    RolloverGrant,
    /// Carried credits lost because the subscription ended or changed plan.
    Forfeit,
}

impl LedgerKind {
    pub const ALL: [LedgerKind; 11] = [
        LedgerKind::DailyGrant,
        LedgerKind::SubscriptionGrant,
        LedgerKind::Purchase,
        LedgerKind::PromoGrant,
        LedgerKind::Consume,
        LedgerKind::Expire,
        LedgerKind::Hold,
        LedgerKind::Release,
        LedgerKind::Refund,
        LedgerKind::RolloverGrant,
        LedgerKind::Forfeit,
    ];

    /// The input that asks for a movement of this kind: the field an error
    /// refusing it names.
    pub fn input_field(self) -> &'static str {
        match self {
            LedgerKind::DailyGrant => "accountId",
            LedgerKind::SubscriptionGrant | LedgerKind::RolloverGrant | LedgerKind::Forfeit => "planCode",
            LedgerKind::Purchase => "packId",
            LedgerKind::PromoGrant => "credits",
            LedgerKind::Consume | LedgerKind::Hold => "generation",
            LedgerKind::Expire => "expiresAt",
            LedgerKind::Release => "reservationId",
            LedgerKind::Refund => "usageEventId",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::DailyGrant => "DAILY_GRANT",
            LedgerKind::SubscriptionGrant => "SUBSCRIPTION_GRANT",
            LedgerKind::Purchase => "PURCHASE",
            LedgerKind::PromoGrant => "PROMO_GRANT",
            LedgerKind::Consume => "CONSUME",
            LedgerKind::Expire => "EXPIRE",
            LedgerKind::Hold => "HOLD",
            LedgerKind::Release => "RELEASE",
            LedgerKind::Refund => "REFUND",
            LedgerKind::RolloverGrant => "ROLLOVER_GRANT",
            LedgerKind::Forfeit => "FORFEIT",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        LedgerKind::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}
