//! The writer task: one connection per node that commits queued writes in groups, as the
//! embedded store's writer thread does.
//!
//! It takes whatever is queued (never waiting for more: a group is what piled up while the
//! previous one committed), runs each write in its own savepoint of one transaction,
//! commits once, and only then answers every caller. A write that fails rolls back its
//! savepoint alone; a commit that fails fails the whole group, and nobody is told their
//! write succeeded. Other nodes' writers commit beside this one: what must not interleave
//! (the seqs of one execution, the links of one account's audit chain) is serialised by
//! the row locks the writes take, held until their group commits.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use deadpool_postgres::{Object, Pool};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use pipelog_core::time::UtcTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Db, Notices, idempotency};
use crate::StoreError;
use crate::group_commit::{
    self, Abandon, AppliedWrite, GroupLimits, Operation, WriterSnapshot, WriterStats,
};
use crate::idempotency::IdempotencyScope;

/// At most this many writes go into one group commit (each in a savepoint, a
/// subtransaction)... PostgreSQL keeps up to 64 subtransaction ids per backend in shared
/// memory; past that, every other session's snapshot checks read the subtransaction log
/// instead, a known cliff. Groups stay under it; a group of 60 already shares one commit's
/// WAL flush among 60 writes.
const MAX_GROUP_WRITES: usize = 60;
/// ...and, past the first write, at most about this many rows.
const MAX_GROUP_ROWS: usize = 20_000;

/// What a write runs: on the writer's connection, inside the write's savepoint.
pub(super) type WriteFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// The handle to the writer task.
#[derive(Debug)]
pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    task: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<WriterStats>,
}

type Message = group_commit::Message<dyn PendingWrite>;
type QueuedWrite = group_commit::QueuedWrite<dyn PendingWrite>;

/// A write waiting to run.
trait PendingWrite: Abandon {
    /// Runs the write inside the current savepoint. On failure the caller is answered at
    /// once (nothing of the write will be committed) and `None` comes back.
    fn apply<'a>(
        self: Box<Self>,
        db: &'a Db,
        now: UtcTime,
    ) -> BoxFuture<'a, Option<Box<dyn AppliedWrite>>>;
}

impl<T, F> PendingWrite for Operation<T, F>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a Db, UtcTime) -> WriteFuture<'a, T> + Send + 'static,
{
    fn apply<'a>(
        self: Box<Self>,
        db: &'a Db,
        now: UtcTime,
    ) -> BoxFuture<'a, Option<Box<dyn AppliedWrite>>> {
        let Operation { op, reply } = *self;
        Box::pin(async move {
            let outcome = AssertUnwindSafe(async move { op(db, now).await })
                .catch_unwind()
                .await;
            group_commit::hold_for_commit(outcome, reply)
        })
    }
}

impl Writer {
    /// Starts the writer task; it takes its connection from `pool` (and a new one whenever
    /// the one it holds breaks).
    pub(super) fn start(pool: Pool, notices: Arc<Notices>, queue_capacity: usize) -> Self {
        let (queue, inbox) = mpsc::channel(queue_capacity.max(1));
        let stats = Arc::new(WriterStats::default());
        let counting = Arc::clone(&stats);
        let task = tokio::spawn(run(pool, notices, inbox, counting));
        Writer {
            queue,
            task: Mutex::new(Some(task)),
            stats,
        }
    }

    /// The queue now, and what was committed so far.
    pub(super) fn snapshot(&self) -> WriterSnapshot {
        self.stats.snapshot(&self.queue)
    }

    /// Runs `op` in order with every other write of this node, and answers after it
    /// committed.
    pub(super) async fn barrier<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Db, UtcTime) -> WriteFuture<'a, T> + Send + 'static,
    {
        self.submit(None, 1, op).await
    }

    /// Runs `op`, which adds about `weight` rows, kept together with the other writes of
    /// `group` in its commit; answers after it committed.
    pub(super) async fn grouped<T, F>(
        &self,
        group: u64,
        weight: usize,
        op: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Db, UtcTime) -> WriteFuture<'a, T> + Send + 'static,
    {
        self.submit(Some(group), weight, op).await
    }

    async fn submit<T, F>(&self, group: Option<u64>, weight: usize, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Db, UtcTime) -> WriteFuture<'a, T> + Send + 'static,
    {
        // A write of a request with an Idempotency-Key claims the key in its own savepoint.
        // And when the handler said how its answer follows from the write's value, the
        // answer is kept in the same savepoint.
        let scope = IdempotencyScope::current();
        let claiming = scope.clone();
        let render = scope.as_ref().and_then(|scope| scope.render());
        let op = write_fn(move |db, now| {
            Box::pin(async move {
                let Some(scope) = &claiming else {
                    return op(db, now).await.map(|value| (value, false));
                };
                idempotency::claim(db, scope, now).await?;
                let value = op(db, now).await?;
                let answer = render.and_then(|render| render(&value as &dyn std::any::Any));
                if let Some(answer) = &answer {
                    idempotency::answer(db, scope, answer).await?;
                }
                Ok((value, answer.is_some()))
            })
        });
        group_commit::submit(&self.queue, group, weight, scope.as_deref(), |reply| {
            Box::new(Operation { op, reply })
        })
        .await
    }

    /// Commits everything queued before this call, then stops the task. Writes queued
    /// after it fail with `Closed`.
    pub(super) async fn close(&self) {
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(task) = task else { return };
        // Waits for room if the queue is full: closing must not drop queued writes.
        let _ = self.queue.send(Message::Close).await;
        let _ = task.await;
    }
}

/// Gives a closure the signature of a write, so that the compiler infers it for every
/// lifetime of the connection it borrows.
fn write_fn<T, F>(op: F) -> F
where
    F: for<'a> FnOnce(&'a Db, UtcTime) -> WriteFuture<'a, T>,
{
    op
}

async fn run(
    pool: Pool,
    notices: Arc<Notices>,
    mut inbox: mpsc::Receiver<Message>,
    stats: Arc<WriterStats>,
) {
    let limits = GroupLimits {
        writes: MAX_GROUP_WRITES,
        rows: MAX_GROUP_ROWS,
    };
    let mut connection: Option<Object> = None;
    let mut closing = false;
    while !closing {
        let Some(first) = inbox.recv().await else {
            break;
        };
        let group = group_commit::gather(first, &mut inbox, limits);
        closing = group.closing;
        let writes = group.writes;
        if writes.is_empty() {
            continue;
        }
        // A connection that broke (PostgreSQL restarted, say) is replaced by a new one.
        if connection.as_ref().is_some_and(|held| held.is_closed()) {
            connection = None;
        }
        if connection.is_none() {
            match pool.get().await {
                Ok(object) => connection = Some(object),
                Err(error) => {
                    let error =
                        StoreError::Backend(format!("the writer cannot reach PostgreSQL: {error}"));
                    tracing::error!(%error, writes = writes.len(), "cannot begin a group commit");
                    group_commit::abandon_group(writes, &error, &stats);
                    continue;
                }
            }
        }
        if let Some(held) = &connection {
            commit_group(held, &notices, writes, &stats).await;
        }
    }
    tracing::debug!("writer stopped");
}

async fn commit_group(
    db: &Db,
    notices: &Notices,
    mut writes: Vec<QueuedWrite>,
    stats: &WriterStats,
) {
    group_commit::order_writes(&mut writes);
    let now = UtcTime::now();
    if let Err(error) = db.batch_execute("BEGIN").await {
        let error = StoreError::from(error);
        tracing::error!(%error, writes = writes.len(), "cannot begin a group commit");
        group_commit::abandon_group(writes, &error, stats);
        return;
    }
    notices.clear();
    let mut applied = Vec::with_capacity(writes.len());
    let mut writes = writes.into_iter();
    // Set when a failed write cannot be undone: the whole group is then rolled back.
    let mut broken = None;
    let mut applied_rows = 0;
    for queued in writes.by_ref() {
        let weight = queued.weight;
        if let Err(error) = db.batch_execute("SAVEPOINT write").await {
            queued.write.abandon(error.into());
            broken = Some(StoreError::Backend("a savepoint failed".into()));
            break;
        }
        let undone = match queued.write.apply(db, now).await {
            Some(done) => match db.batch_execute("RELEASE SAVEPOINT write").await {
                Ok(()) => {
                    applied.push(done);
                    applied_rows += weight;
                    Ok(())
                }
                Err(error) => {
                    done.settle(Err(error.into()));
                    undo_write(db).await
                }
            },
            None => undo_write(db).await,
        };
        if let Err(error) = undone {
            broken = Some(error);
            break;
        }
    }
    let outcome = match broken {
        None => commit(db, notices).await,
        Some(error) => {
            // The connection is dropped by the caller if it is broken; otherwise it must
            // not stay inside the failed transaction.
            let _ = db.batch_execute("ROLLBACK").await;
            Err(error)
        }
    };
    match &outcome {
        Ok(()) => tracing::trace!(
            writes = applied.len(),
            rows = applied_rows,
            "group committed"
        ),
        Err(error) => tracing::error!(%error, writes = applied.len(), "group commit failed"),
    }
    group_commit::settle_group(outcome, applied, applied_rows, writes, stats);
}

/// Sends the group's notices (delivered to every node's listener only if the commit
/// succeeds), then commits.
async fn commit(db: &Db, notices: &Notices) -> Result<(), StoreError> {
    let pending = notices.take();
    if !pending.is_empty() {
        let statement = db
            .prepare_cached("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
            .await?;
        db.execute(&statement, &[&super::NOTICE_CHANNEL, &pending])
            .await?;
    }
    db.batch_execute("COMMIT").await?;
    Ok(())
}

/// Undoes the current write alone; the group's other writes stand.
async fn undo_write(db: &Db) -> Result<(), StoreError> {
    db.batch_execute("ROLLBACK TO SAVEPOINT write; RELEASE SAVEPOINT write")
        .await?;
    Ok(())
}
