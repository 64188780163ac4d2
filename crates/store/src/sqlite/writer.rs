//! The writer thread: the only connection that writes, committing queued writes in groups.
//!
//! It takes whatever is queued (never waiting for more to arrive: a group is what piled up
//! while the previous one committed), runs each write in its own savepoint of one
//! transaction, commits once, and only then answers every caller. A write that fails rolls
//! back its savepoint alone; a commit that fails fails the whole group, and nobody is told
//! their write succeeded.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pipelog_core::time::UtcTime;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::mpsc;

use super::idempotency;
use crate::StoreError;
use crate::group_commit::{
    self, Abandon, AppliedWrite, GroupLimits, Operation, WriterSnapshot, WriterStats,
};
use crate::idempotency::IdempotencyScope;

/// At most this many writes go into one group commit...
const MAX_GROUP_WRITES: usize = 1024;
/// ...and, past the first write, at most about this many rows.
const MAX_GROUP_ROWS: usize = 20_000;

/// The handle to the writer thread.
#[derive(Debug)]
pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<WriterStats>,
}

type Message = group_commit::Message<dyn PendingWrite>;
type QueuedWrite = group_commit::QueuedWrite<dyn PendingWrite>;

/// A write waiting to run.
trait PendingWrite: Abandon {
    /// Runs the write inside the current savepoint. On failure the caller is answered at
    /// once (nothing of the write will be committed) and `None` comes back.
    fn apply(
        self: Box<Self>,
        connection: &Connection,
        now: UtcTime,
    ) -> Option<Box<dyn AppliedWrite>>;
}

impl<T, F> PendingWrite for Operation<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection, UtcTime) -> Result<T, StoreError> + Send,
{
    fn apply(
        self: Box<Self>,
        connection: &Connection,
        now: UtcTime,
    ) -> Option<Box<dyn AppliedWrite>> {
        let Operation { op, reply } = *self;
        group_commit::hold_for_commit(
            catch_unwind(AssertUnwindSafe(|| op(connection, now))),
            reply,
        )
    }
}

impl Writer {
    /// Starts the writer thread on `connection`.
    pub(super) fn start(connection: Connection, queue_capacity: usize) -> Result<Self, StoreError> {
        let (queue, inbox) = mpsc::channel(queue_capacity.max(1));
        let stats = Arc::new(WriterStats::default());
        let counting = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("pipelog-writer".into())
            .spawn(move || run(connection, inbox, &counting))
            .map_err(|error| {
                StoreError::Backend(format!("cannot start the writer thread: {error}"))
            })?;
        Ok(Writer {
            queue,
            thread: Mutex::new(Some(thread)),
            stats,
        })
    }

    /// The queue now, and what was committed so far.
    pub(super) fn snapshot(&self) -> WriterSnapshot {
        self.stats.snapshot([&self.queue])
    }

    /// Runs `op` in order with every other write, and answers after it committed.
    pub(super) async fn barrier<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, UtcTime) -> Result<T, StoreError> + Send + 'static,
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
        F: FnOnce(&Connection, UtcTime) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(Some(group), weight, op).await
    }

    async fn submit<T, F>(&self, group: Option<u64>, weight: usize, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, UtcTime) -> Result<T, StoreError> + Send + 'static,
    {
        // A write of a request with an Idempotency-Key claims the key in its own savepoint.
        // And when the handler said how its answer follows from the write's value, the
        // answer is kept in the same savepoint.
        let scope = IdempotencyScope::current();
        let claiming = scope.clone();
        let render = scope.as_ref().and_then(|scope| scope.render());
        let op = move |connection: &Connection, now| {
            let Some(scope) = &claiming else {
                return op(connection, now).map(|value| (value, false));
            };
            idempotency::claim(connection, scope, now)?;
            let value = op(connection, now)?;
            let answer = render.and_then(|render| render(&value as &dyn std::any::Any));
            if let Some(answer) = &answer {
                idempotency::answer(connection, scope, answer)?;
            }
            Ok((value, answer.is_some()))
        };
        group_commit::submit(&self.queue, group, weight, scope.as_deref(), |reply| {
            Box::new(Operation { op, reply })
        })
        .await
    }

    /// Commits everything queued before this call, then stops the thread. Writes queued
    /// after it fail with `Closed`.
    pub(super) async fn close(&self) {
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(thread) = thread else { return };
        // Waits for room if the queue is full: closing must not drop queued writes.
        let _ = self.queue.send(Message::Close).await;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

fn run(mut connection: Connection, mut inbox: mpsc::Receiver<Message>, stats: &WriterStats) {
    let limits = GroupLimits {
        writes: MAX_GROUP_WRITES,
        rows: MAX_GROUP_ROWS,
    };
    let mut closing = false;
    while !closing {
        let Some(first) = inbox.blocking_recv() else {
            break;
        };
        let group = group_commit::gather(first, &mut inbox, limits);
        closing = group.closing;
        if !group.writes.is_empty() {
            commit_group(&mut connection, group.writes, stats);
        }
    }
    tracing::debug!("writer stopped");
}

fn commit_group(connection: &mut Connection, mut writes: Vec<QueuedWrite>, stats: &WriterStats) {
    group_commit::order_writes(&mut writes);
    let now = UtcTime::now();
    let transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => transaction,
        Err(error) => {
            let error = StoreError::from(error);
            tracing::error!(%error, writes = writes.len(), "cannot begin a group commit");
            group_commit::abandon_group(writes, &error, stats);
            return;
        }
    };
    let mut applied = Vec::with_capacity(writes.len());
    let mut writes = writes.into_iter();
    // Set when a failed write cannot be undone: the whole group is then rolled back.
    let mut broken = None;
    let mut applied_rows = 0;
    for queued in writes.by_ref() {
        let weight = queued.weight;
        if let Err(error) = statement(&transaction, "SAVEPOINT write") {
            queued.write.abandon(error);
            continue;
        }
        let undone = match queued.write.apply(&transaction, now) {
            Some(done) => match statement(&transaction, "RELEASE write") {
                Ok(()) => {
                    applied.push(done);
                    applied_rows += weight;
                    Ok(())
                }
                Err(error) => {
                    done.settle(Err(error));
                    undo_write(&transaction)
                }
            },
            None => undo_write(&transaction),
        };
        if let Err(error) = undone {
            broken = Some(error);
            break;
        }
    }
    let outcome = match broken {
        None => transaction.commit().map_err(StoreError::from),
        // Dropping the transaction rolls it back.
        Some(error) => Err(error),
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

/// Runs one of the statements that bracket a write (or a part of one). They are prepared
/// once and kept: rusqlite's `Savepoint` parses `SAVEPOINT` and `RELEASE` again for every
/// write, which showed in profiles of single-entry ingest.
pub(super) fn statement(connection: &Connection, sql: &str) -> Result<(), StoreError> {
    connection.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Undoes the current write alone; the group's other writes stand.
fn undo_write(connection: &Connection) -> Result<(), StoreError> {
    statement(connection, "ROLLBACK TO write")?;
    statement(connection, "RELEASE write")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inserts `values` in order, each with its own statement.
    fn insert(
        values: &'static [i64],
    ) -> impl FnOnce(&Connection, UtcTime) -> Result<(), StoreError> {
        move |connection, _| {
            for value in values {
                connection.execute("INSERT INTO t (x) VALUES (?1)", [value])?;
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failed_write_leaves_nothing_and_its_group_commits() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let connection = Connection::open(file.path()).unwrap();
        connection
            .execute("CREATE TABLE t (x INTEGER UNIQUE)", [])
            .unwrap();
        let writer = Writer::start(connection, 16).unwrap();
        // Queued together, so that they usually share one group commit; the outcome must
        // be the same either way.
        let (first, failing, last) = tokio::join!(
            writer.grouped(1, 1, insert(&[1])),
            writer.grouped(2, 2, insert(&[2, 1])),
            writer.grouped(3, 1, insert(&[3])),
        );
        first.unwrap();
        assert!(failing.is_err(), "the duplicate 1 fails the second write");
        last.unwrap();
        writer.close().await;
        let connection = Connection::open(file.path()).unwrap();
        let stored: Vec<i64> = connection
            .prepare("SELECT x FROM t ORDER BY x")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            stored,
            [1, 3],
            "nothing of the failed write, all of the others"
        );
    }
}
