//! Catalog changes between processes: a change sends `NOTIFY` in its
//! transaction (delivered only if it commits), and every process listens,
//! so a change reaches them all within moments. The listener holds one
//! connection of the background pool (`engine::Connections`), none of the
//! requests'.
use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseTransaction};

use crate::error::{Error, Result};

const CHANNEL: &str = "credits_catalog";

/// Tells the other processes that version `version` is committed (the
/// payload is informative: a listener checks the version it can read).
pub async fn announce(tx: &DatabaseTransaction, version: i64) -> Result<()> {
    tx.execute_unprepared(&format!("NOTIFY {CHANNEL}, '{version}'")).await?;
    Ok(())
}

pub struct CatalogListener(PgListener);

impl CatalogListener {
    pub async fn open(pool: &PgPool) -> Result<CatalogListener> {
        let mut listener = PgListener::connect_with(pool).await.map_err(|e| Error::internal(e.to_string()))?;
        listener.listen(CHANNEL).await.map_err(|e| Error::internal(e.to_string()))?;
        Ok(CatalogListener(listener))
    }

    /// Waits for the next announcement (of any schema on the database: the
    /// check that follows reads this one's version). After a lost
    /// connection it reconnects, and answers at once: changes may have been
    /// missed meanwhile.
    pub async fn next(&mut self) -> Result<()> {
        self.0.try_recv().await.map(|_| ()).map_err(|e| Error::internal(e.to_string()))
    }
}
