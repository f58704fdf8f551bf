//! What an account holds, read on SQLite: three short reads, each a few µs
//! on the writer's own thread, so nothing is read ahead of being asked.
use entity::{credit_lots, reservations, subscriptions};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::store::account_tx::{HoldingRows, Prefetched};

pub async fn holdings(db: &impl ConnectionTrait, account_id: &str, open: &str) -> Result<HoldingRows, DbErr> {
    let lots = credit_lots::Entity::find()
        .filter(credit_lots::Column::AccountId.eq(account_id))
        .filter(credit_lots::Column::Remaining.gt(0))
        .all(db)
        .await?;
    let subscription = subscriptions::Entity::find()
        .filter(subscriptions::Column::AccountId.eq(account_id))
        .order_by_desc(subscriptions::Column::Id)
        .one(db)
        .await?;
    let holds = reservations::Entity::find()
        .filter(reservations::Column::AccountId.eq(account_id))
        .filter(reservations::Column::Status.eq(open))
        .all(db)
        .await?;
    Ok(HoldingRows { lots, subscription, holds, prefetched: Prefetched::default() })
}
