//! The writer: a few tasks per node (lanes), each on a connection of its own, committing
//! queued writes in groups as the embedded store's writer thread does.
//!
//! A lane takes whatever is queued for it (never waiting for more: a group is what piled
//! up while its previous one committed), runs each write in its own savepoint of one
//! transaction, commits once, and only then answers every caller. A write that fails rolls
//! back its savepoint alone; a commit that fails fails the whole group, and nobody is told
//! their write succeeded.
//!
//! An account's writes all go to one lane, in order, so that two lanes of a node never
//! wait on each other's locks; writes that belong to no account (purges, export claims)
//! go to the first. The lanes, like other nodes' writers, commit beside each other: what
//! must not interleave (the seqs of one execution, the links of one account's audit chain)
//! is serialised by the row locks the writes take, held until their group commits. Lanes
//! by group instead (one execution's lines) were measured to deadlock once a second under
//! single-entry ingest: a group holds the audit chains of the accounts whose executions it
//! created until it commits, and two lanes took two accounts' chains in opposite orders. Each statement is a round trip
//! to PostgreSQL, and one lane spends most of its time waiting for them: lanes overlap
//! those waits.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use deadpool_postgres::{Object, Pool};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use pipelog_core::ids::AccountId;
use pipelog_core::time::UtcTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Db, NOTICE_CHANNEL, idempotency};
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

tokio::task_local! {
    /// What the writes of the group a lane is committing want other nodes to hear of.
    static NOTICES: RefCell<Vec<String>>;
}

/// Called by a write (inside a lane): tells every node's listener `notice` once the
/// write's group commits. A write that then fails may leave its notice; a listener that
/// hears of a change that did not happen merely reads again.
pub(super) fn notify(notice: String) {
    let _ = NOTICES.try_with(|notices| notices.borrow_mut().push(notice));
}

/// The handle to the writer task.
#[derive(Debug)]
pub(super) struct Writer {
    lanes: Vec<Lane>,
    stats: Arc<WriterStats>,
}

#[derive(Debug)]
struct Lane {
    queue: mpsc::Sender<Message>,
    task: Mutex<Option<JoinHandle<()>>>,
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
    /// Starts `lanes` writer tasks sharing `queue_capacity` waiting writes; each takes its
    /// connection from `pool` (and a new one whenever the one it holds breaks).
    pub(super) fn start(pool: Pool, lanes: usize, queue_capacity: usize) -> Self {
        let lanes = lanes.max(1);
        let stats = Arc::new(WriterStats::default());
        let lanes = (0..lanes)
            .map(|_| {
                let (queue, inbox) = mpsc::channel((queue_capacity / lanes).max(1));
                let task = tokio::spawn(NOTICES.scope(
                    RefCell::new(Vec::new()),
                    run(pool.clone(), inbox, Arc::clone(&stats)),
                ));
                Lane {
                    queue,
                    task: Mutex::new(Some(task)),
                }
            })
            .collect();
        Writer { lanes, stats }
    }

    /// The queue now, and what was committed so far.
    pub(super) fn snapshot(&self) -> WriterSnapshot {
        self.stats
            .snapshot(self.lanes.iter().map(|lane| &lane.queue))
    }

    /// The lane of `account`'s writes.
    pub(super) fn of(&self, account: AccountId) -> LaneRef<'_> {
        let mut hasher = DefaultHasher::new();
        account.hash(&mut hasher);
        LaneRef {
            writer: self,
            lane: (hasher.finish() % self.lanes.len() as u64) as usize,
        }
    }

    /// The lane of writes that belong to no account.
    pub(super) fn shared(&self) -> LaneRef<'_> {
        LaneRef {
            writer: self,
            lane: 0,
        }
    }

    async fn submit<T, F>(
        &self,
        lane: usize,
        group: Option<u64>,
        weight: usize,
        op: F,
    ) -> Result<T, StoreError>
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
        let queue = &self.lanes[lane].queue;
        group_commit::submit(queue, group, weight, scope.as_deref(), |reply| {
            Box::new(Operation { op, reply })
        })
        .await
    }

    /// Commits everything queued before this call, then stops the task. Writes queued
    /// after it fail with `Closed`.
    pub(super) async fn close(&self) {
        for lane in &self.lanes {
            let task = lane.task.lock().unwrap_or_else(|p| p.into_inner()).take();
            let Some(task) = task else { continue };
            // Waits for room if the queue is full: closing must not drop queued writes.
            let _ = lane.queue.send(Message::Close).await;
            let _ = task.await;
        }
    }
}

/// Gives a closure the signature of a write, so that the compiler infers it for every
/// lifetime of the connection it borrows.
/// One lane of the writer, to submit writes to.
#[derive(Debug)]
pub(super) struct LaneRef<'w> {
    writer: &'w Writer,
    lane: usize,
}

impl LaneRef<'_> {
    /// Runs `op` in order with every other write of this lane, and answers after it
    /// committed.
    pub(super) async fn barrier<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Db, UtcTime) -> WriteFuture<'a, T> + Send + 'static,
    {
        self.writer.submit(self.lane, None, 1, op).await
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
        self.writer.submit(self.lane, Some(group), weight, op).await
    }
}

fn write_fn<T, F>(op: F) -> F
where
    F: for<'a> FnOnce(&'a Db, UtcTime) -> WriteFuture<'a, T>,
{
    op
}

async fn run(pool: Pool, mut inbox: mpsc::Receiver<Message>, stats: Arc<WriterStats>) {
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
            commit_group(held, writes, &stats).await;
        }
    }
    tracing::debug!("writer stopped");
}

async fn commit_group(db: &Db, mut writes: Vec<QueuedWrite>, stats: &WriterStats) {
    group_commit::order_writes(&mut writes);
    let now = UtcTime::now();
    // Statements that end one write and begin the next go together, one round trip: a
    // savepoint stays in place after `ROLLBACK TO`, and the last write's savepoint needs
    // no release before `COMMIT`.
    if let Err(error) = db.batch_execute("BEGIN; SAVEPOINT write").await {
        let error = StoreError::from(error);
        tracing::error!(%error, writes = writes.len(), "cannot begin a group commit");
        group_commit::abandon_group(writes, &error, stats);
        return;
    }
    let _ = NOTICES.try_with(|notices| notices.borrow_mut().clear());
    let mut applied = Vec::with_capacity(writes.len());
    let total = writes.len();
    let mut writes = writes.into_iter();
    // Set when the group cannot go on: it is then rolled back whole.
    let mut broken = None;
    let mut applied_rows = 0;
    for (index, queued) in writes.by_ref().enumerate() {
        let weight = queued.weight;
        let last = index + 1 == total;
        let next = match queued.write.apply(db, now).await {
            Some(done) => {
                applied.push(done);
                applied_rows += weight;
                (!last).then_some("RELEASE SAVEPOINT write; SAVEPOINT write")
            }
            // Its caller has been answered; the savepoint stays for the next write.
            None => Some("ROLLBACK TO SAVEPOINT write"),
        };
        if let Some(next) = next
            && let Err(error) = db.batch_execute(next).await
        {
            broken = Some(StoreError::from(error));
            break;
        }
    }
    let outcome = match broken {
        None => commit(db).await,
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
/// succeeds) and commits, in one round trip.
async fn commit(db: &Db) -> Result<(), StoreError> {
    let mut pending = NOTICES
        .try_with(|notices| std::mem::take(&mut *notices.borrow_mut()))
        .unwrap_or_default();
    pending.sort_unstable();
    pending.dedup();
    let mut batch = String::new();
    for notice in &pending {
        // Notices are pipelog's own words and ids; quoted all the same.
        batch.push_str(&format!(
            "SELECT pg_notify('{NOTICE_CHANNEL}', '{}'); ",
            notice.replace('\'', "''")
        ));
    }
    batch.push_str("COMMIT");
    db.batch_execute(&batch).await?;
    Ok(())
}
