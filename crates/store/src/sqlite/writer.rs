//! The writer thread: the only connection that writes, committing queued writes in groups.
//!
//! It takes whatever is queued (never waiting for more to arrive: a group is what piled up
//! while the previous one committed), runs each write in its own savepoint of one
//! transaction, commits once, and only then answers every caller. A write that fails rolls
//! back its savepoint alone; a commit that fails fails the whole group, and nobody is told
//! their write succeeded.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pipelog_core::time::UtcTime;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::idempotency;
use crate::idempotency::IdempotencyScope;
use crate::{CountHistogram, StoreError};

/// At most this many writes go into one group commit...
const MAX_GROUP_WRITES: usize = 1024;
/// ...and, past the first write, at most about this many rows.
const MAX_GROUP_ROWS: usize = 20_000;

/// Upper bounds of the buckets of writes per group commit.
const GROUP_SIZE_BOUNDS: [u64; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/// The handle to the writer thread.
#[derive(Debug)]
pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<WriterStats>,
}

/// What the writer counts as it commits.
#[derive(Debug, Default)]
struct WriterStats {
    /// Successful group commits by their number of writes: one counter per bound of
    /// `GROUP_SIZE_BOUNDS` (not cumulative), then one for larger groups.
    groups: [AtomicU64; GROUP_SIZE_BOUNDS.len() + 1],
    writes: AtomicU64,
    rows: AtomicU64,
    failed: AtomicU64,
}

impl WriterStats {
    fn committed(&self, writes: usize, rows: usize) {
        let bucket = GROUP_SIZE_BOUNDS.partition_point(|&bound| bound < writes as u64);
        self.groups[bucket].fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(writes as u64, Ordering::Relaxed);
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
    }
}

/// The writer's figures at one moment.
#[derive(Debug)]
pub(super) struct WriterSnapshot {
    pub queue_depth: usize,
    pub queue_capacity: usize,
    pub group_writes: CountHistogram,
    pub rows: u64,
    pub failed: u64,
}

enum Message {
    Write(QueuedWrite),
    Close,
}

struct QueuedWrite {
    /// Writes with a group may be reordered among their neighbours to keep each group
    /// together; writes without one are barriers that nothing moves across.
    group: Option<u64>,
    /// Rows the write adds, for sizing groups.
    weight: usize,
    write: Box<dyn PendingWrite>,
}

/// A write waiting to run.
trait PendingWrite: Send {
    /// Runs the write inside the current savepoint. On failure the caller is answered at
    /// once (nothing of the write will be committed) and `None` comes back.
    fn apply(
        self: Box<Self>,
        connection: &Connection,
        now: UtcTime,
    ) -> Option<Box<dyn AppliedWrite>>;
    /// Answers the caller without running the write.
    fn abandon(self: Box<Self>, error: StoreError);
}

/// A write that ran and waits for its group's commit.
trait AppliedWrite: Send {
    fn settle(self: Box<Self>, commit: Result<(), StoreError>);
}

struct Operation<T, F> {
    op: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
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
        let outcome = catch_unwind(AssertUnwindSafe(|| op(connection, now))).unwrap_or_else(|_| {
            Err(StoreError::Backend(
                "a write panicked and was rolled back".into(),
            ))
        });
        match outcome {
            Ok(value) => Some(Box::new(Applied { value, reply })),
            Err(error) => {
                let _ = reply.send(Err(error));
                None
            }
        }
    }

    fn abandon(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

struct Applied<T> {
    value: T,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send> AppliedWrite for Applied<T> {
    fn settle(self: Box<Self>, commit: Result<(), StoreError>) {
        // The caller may have gone away (a dropped request); the write stands either way.
        let Applied { value, reply } = *self;
        let _ = reply.send(commit.map(|()| value));
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
        let mut buckets = Vec::with_capacity(GROUP_SIZE_BOUNDS.len());
        let mut below = 0;
        for (bound, groups) in GROUP_SIZE_BOUNDS.iter().zip(&self.stats.groups) {
            below += groups.load(Ordering::Relaxed);
            buckets.push((*bound, below));
        }
        let count = below + self.stats.groups[GROUP_SIZE_BOUNDS.len()].load(Ordering::Relaxed);
        WriterSnapshot {
            queue_depth: self.queue.max_capacity() - self.queue.capacity(),
            queue_capacity: self.queue.max_capacity(),
            group_writes: CountHistogram {
                buckets,
                count,
                sum: self.stats.writes.load(Ordering::Relaxed),
            },
            rows: self.stats.rows.load(Ordering::Relaxed),
            failed: self.stats.failed.load(Ordering::Relaxed),
        }
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
        let (reply, answer) = oneshot::channel();
        let write = QueuedWrite {
            group,
            weight,
            write: Box::new(Operation { op, reply }),
        };
        self.queue
            .try_send(Message::Write(write))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
            })?;
        let outcome = answer.await.unwrap_or(Err(StoreError::Closed));
        if let (Some(scope), Ok((_, answered))) = (&scope, &outcome) {
            scope.mark_written();
            if *answered {
                scope.mark_answered();
            }
        }
        outcome.map(|(value, _)| value)
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
    let mut closing = false;
    while !closing {
        let Some(first) = inbox.blocking_recv() else {
            break;
        };
        let mut writes = Vec::new();
        let mut rows = 0;
        match first {
            Message::Write(write) => {
                rows += write.weight;
                writes.push(write);
            }
            Message::Close => closing = true,
        }
        while !closing && writes.len() < MAX_GROUP_WRITES && rows < MAX_GROUP_ROWS {
            match inbox.try_recv() {
                Ok(Message::Write(write)) => {
                    rows += write.weight;
                    writes.push(write);
                }
                Ok(Message::Close) => closing = true,
                Err(_) => break,
            }
        }
        if !writes.is_empty() {
            commit_group(&mut connection, writes, stats);
        }
    }
    tracing::debug!("writer stopped");
}

/// Keeps each group's writes together, in arrival order, without moving anything across a
/// barrier.
fn order_writes(writes: &mut [QueuedWrite]) {
    for run in writes.split_mut(|write| write.group.is_none()) {
        run.sort_by_key(|write| write.group);
    }
}

fn commit_group(connection: &mut Connection, mut writes: Vec<QueuedWrite>, stats: &WriterStats) {
    order_writes(&mut writes);
    let now = UtcTime::now();
    let transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => transaction,
        Err(error) => {
            let error = StoreError::from(error);
            tracing::error!(%error, writes = writes.len(), "cannot begin a group commit");
            stats.failed.fetch_add(1, Ordering::Relaxed);
            for queued in writes {
                queued.write.abandon(error.clone());
            }
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
        Ok(()) => {
            tracing::trace!(
                writes = applied.len(),
                rows = applied_rows,
                "group committed"
            );
            stats.committed(applied.len(), applied_rows);
        }
        Err(error) => {
            tracing::error!(%error, writes = applied.len(), "group commit failed");
            stats.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    for queued in writes {
        queued.write.abandon(StoreError::Backend(
            "the group commit failed; the write was not run".into(),
        ));
    }
    for done in applied {
        done.settle(outcome.clone());
    }
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

    fn queued(group: Option<u64>, tag: u8, seen: &std::sync::Arc<Mutex<Vec<u8>>>) -> QueuedWrite {
        let seen = std::sync::Arc::clone(seen);
        let (reply, _answer) = oneshot::channel();
        QueuedWrite {
            group,
            weight: 1,
            write: Box::new(Operation {
                op: move |_: &Connection, _: UtcTime| {
                    seen.lock().unwrap().push(tag);
                    Ok(())
                },
                reply,
            }),
        }
    }

    #[test]
    fn groups_are_gathered_in_arrival_order_and_barriers_stay_put() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut writes = vec![
            queued(Some(2), 1, &seen),
            queued(Some(1), 2, &seen),
            queued(Some(2), 3, &seen),
            queued(None, 4, &seen),
            queued(Some(1), 5, &seen),
            queued(Some(0), 6, &seen),
        ];
        order_writes(&mut writes);
        let connection = Connection::open_in_memory().unwrap();
        for write in writes {
            write.write.apply(&connection, UtcTime::now());
        }
        assert_eq!(*seen.lock().unwrap(), vec![2, 1, 3, 4, 6, 5]);
    }

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
