//! On PostgreSQL, requests for one account queue here, in memory, before
//! they take a database connection. Money is still guarded by the database
//! (the row lock); the gate only keeps a burst on one account from holding
//! every pooled connection while it waits for that lock, which would fail
//! unrelated requests with SERVICE_UNAVAILABLE. (SQLite's one writer has its
//! own queue: `sqlite::group_commit`.)
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::error::{Error, Result};
use crate::store::engine::TURN_WAIT;

/// Above this many gates, the ones nobody holds are dropped.
const GATES_KEPT_MAX: usize = 10_000;

#[derive(Clone, Default)]
pub struct Gates {
    per_account: Arc<Mutex<HashMap<String, Arc<AsyncMutex<()>>>>>,
}

pub type Turn = OwnedMutexGuard<()>;

impl Gates {
    pub async fn wait(&self, account_id: &str) -> Result<Turn> {
        let gate = {
            let mut gates = self.per_account.lock().map_err(|_| Error::internal("account gates poisoned"))?;
            if gates.len() > GATES_KEPT_MAX {
                gates.retain(|_, gate| Arc::strong_count(gate) > 1);
            }
            gates.entry(account_id.to_owned()).or_default().clone()
        };
        tokio::time::timeout(TURN_WAIT, gate.lock_owned())
            .await
            .map_err(|_| Error::Unavailable(format!("account {account_id}: waited {TURN_WAIT:?} for its turn")))
    }
}
