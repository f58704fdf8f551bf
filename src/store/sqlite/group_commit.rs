//! Group commit for SQLite. SQLite has one writer, and with
//! `synchronous=FULL` each commit waits for the disk: one transaction per
//! charge makes the disk's flush rate the service's charge rate.
//!
//! One thread owns the write connection (`writer`). Account
//! transactions queue for it; it opens one database transaction, runs the
//! queued ones one after another each in a savepoint of its own, commits them
//! together with one flush, and only then answers each. A transaction that fails rolls back to its
//! savepoint alone, so its batch-mates are not touched. If the commit itself
//! fails, SQLite has applied none of the batch, and every member is told so.
//!
//! The work runs on that thread, not in the request: a client that hangs up
//! cannot interrupt a transaction halfway.
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sea_orm::{DatabaseTransaction, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::writer::SqliteWriter;
use crate::error::{Error, Result};
use crate::store::engine::{Staged, TURN_WAIT};

/// At most this many account transactions share one commit, so that a long
/// queue still sees its first answers early, and so that the request
/// threads and the writer work side by side. With 128, the load benchmark's
/// 64 clients travelled as one batch: the writer ran all 64 charges while
/// the request threads waited, then they sent 64 answers and parsed 64
/// requests while the writer waited. Spread charges per second: 128 (all
/// 64): 3,700-3,860; 32: 4,560-4,620; 16: 4,570-5,110; 8: 4,250-4,460.
pub const BATCH_MAX: usize = 16;

/// A transaction that failed for a reason other than a business rule may have
/// left SQLite without its transaction (an I/O error rolls back everything):
/// the batch stops there and commits what it has, if anything.
fn ends_batch<T>(staged: &Staged<T>) -> bool {
    matches!(staged.result, Err(ref error) if !matches!(error, Error::Domain(_)))
}

type Reply = Box<dyn FnOnce(Result<()>) + Send>;

/// Either runs on the savepoint it is given, or is refused without running.
enum Start {
    Run(DatabaseTransaction),
    Refuse(Error),
}

struct Job {
    queued_at: Instant,
    /// Returns how to answer the client once the commit is known, and whether
    /// the batch must stop after it.
    work: Box<dyn FnOnce(Start) -> BoxFuture<'static, (Reply, bool)> + Send>,
}

#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::UnboundedSender<Job>,
    waiting: Arc<AtomicI64>,
}

impl GroupCommit {
    /// Starts the writer on its own thread: its statements and its flushes
    /// block that thread, never the server's.
    pub fn start(writer: SqliteWriter, waiting: Arc<AtomicI64>) -> Result<GroupCommit> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::internal(format!("the SQLite writer's runtime: {e}")))?;
        let (queue, jobs) = mpsc::unbounded_channel();
        let running = waiting.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || runtime.block_on(run(writer, jobs, running)))
            .map_err(|e| Error::internal(format!("the SQLite writer's thread: {e}")))?;
        Ok(GroupCommit { queue, waiting })
    }

    /// Queues `work` and waits until its batch is committed (or failed).
    pub async fn submit<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(DatabaseTransaction) -> BoxFuture<'static, Staged<T>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T>>();
        let job = Job {
            queued_at: Instant::now(),
            work: Box::new(move |start| {
                async move {
                    let staged = match start {
                        Start::Run(savepoint) => work(savepoint).await,
                        Start::Refuse(error) => Staged { result: Err(error), after_commit: None },
                    };
                    let stop = ends_batch(&staged);
                    let reply: Reply = Box::new(move |committed: Result<()>| {
                        // The client may have gone; the outcome stands.
                        let _ = answer.send(staged.answer(committed));
                    });
                    (reply, stop)
                }
                .boxed()
            }),
        };
        self.waiting.fetch_add(1, Ordering::Relaxed);
        if self.queue.send(job).is_err() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(Error::Unavailable("the database writer has stopped".into()));
        }
        answered.await.map_err(|_| Error::internal("a write failed unexpectedly; nothing of it was applied"))?
    }
}

async fn run(writer: SqliteWriter, mut jobs: mpsc::UnboundedReceiver<Job>, waiting: Arc<AtomicI64>) {
    let connection = writer.connection();
    while let Some(first) = jobs.recv().await {
        let began = writer.begin_batch().map_err(Error::from);
        let mut replies = Vec::new();
        // A batch that could not begin refuses one job, then tries again.
        let mut stopped = began.is_err();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            waiting.fetch_sub(1, Ordering::Relaxed);
            let start = match &began {
                Err(error) => Start::Refuse(error.clone()),
                Ok(()) if job.queued_at.elapsed() > TURN_WAIT => {
                    Start::Refuse(Error::Unavailable(format!("waited more than {TURN_WAIT:?} for the database writer")))
                }
                // A savepoint: SeaORM's begin inside the batch's transaction.
                Ok(()) => match connection.begin().await {
                    Ok(savepoint) => Start::Run(savepoint),
                    Err(error) => Start::Refuse(error.into()),
                },
            };
            match AssertUnwindSafe((job.work)(start)).catch_unwind().await {
                Ok((reply, stop)) => {
                    replies.push(reply);
                    stopped |= stop;
                }
                // The savepoint was dropped while unwinding, which rolls it
                // back; the client hears of an internal error.
                Err(panic) => tracing::error!(panic = panic_message(&panic), "a write panicked"),
            }
            // A savepoint that could not be released or rolled back leaves the
            // batch in an unknown state: none of it is committed.
            stopped |= writer.failed();
            if !stopped && replies.len() < BATCH_MAX {
                next = jobs.try_recv().ok();
            }
        }
        let flush = Instant::now();
        let committed = match began {
            Ok(()) => writer.commit_batch().map_err(Error::from),
            Err(error) => Err(error),
        };
        crate::metrics::group_commit(replies.len(), flush.elapsed());
        if let Err(error) = &committed {
            tracing::error!(?error, members = replies.len(), "a group commit failed; none of its writes was applied");
        }
        for reply in replies {
            reply(committed.clone());
        }
    }
}

fn panic_message(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
