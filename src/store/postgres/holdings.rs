//! What an account holds, in one round trip: its lots with credits left,
//! its latest subscription, its open holds and, when the request carries
//! one, the record of its idempotency key and an id for the usage event it
//! records, from one statement (the rows as JSON).
//! Read under the account's lock, just after it, so it sees every change
//! committed before the lock (a statement's snapshot is taken when it
//! starts: the lock's own statement could not read them fresh).
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde::de::DeserializeOwned;

use crate::store::account_tx::{HoldingRows, Prefetch, Prefetched};

const HOLDINGS: &str = "SELECT \
    (SELECT COALESCE(json_agg(l ORDER BY l.id), '[]')::text FROM credit_lots l \
        WHERE l.account_id = $1 AND l.remaining > 0), \
    (SELECT row_to_json(s)::text FROM subscriptions s WHERE s.account_id = $1 ORDER BY s.id DESC LIMIT 1), \
    (SELECT COALESCE(json_agg(r ORDER BY r.id), '[]')::text FROM reservations r \
        WHERE r.account_id = $1 AND r.status = $2), \
    (SELECT row_to_json(i)::text FROM idempotency_records i WHERE i.account_id = $1 AND i.idempotency_key = $3), \
    CASE WHEN $4 THEN nextval(pg_get_serial_sequence('usage_events', 'id')) END";

pub async fn holdings(
    db: &impl ConnectionTrait,
    account_id: &str,
    open: &str,
    prefetch: &Prefetch,
) -> Result<HoldingRows, DbErr> {
    let key = prefetch.key.as_deref();
    let values = [account_id.into(), open.into(), key.map(str::to_owned).into(), prefetch.usage_event_id.into()];
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, HOLDINGS, values);
    let row = db.query_one_raw(statement).await?.ok_or_else(|| DbErr::Custom("no holdings row".into()))?;
    let column = |i: usize| row.try_get_by_index::<Option<String>>(i);
    Ok(HoldingRows {
        lots: parse(column(0)?.as_deref().unwrap_or("[]"))?,
        subscription: column(1)?.as_deref().map(parse).transpose()?,
        holds: parse(column(2)?.as_deref().unwrap_or("[]"))?,
        prefetched: Prefetched {
            key_record: match key {
                Some(key) => Some((key.to_owned(), column(3)?.as_deref().map(parse).transpose()?)),
                None => None,
            },
            usage_event_id: row.try_get_by_index(4)?,
        },
    })
}

fn parse<T: DeserializeOwned>(json: &str) -> Result<T, DbErr> {
    serde_json::from_str(json).map_err(|e| DbErr::Custom(format!("holdings: {e}")))
}
