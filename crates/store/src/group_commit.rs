//! What both backends' writers do alike around their group commits, apart from running
//! the writes: the queue's messages, gathering a group, the order its writes run in,
//! answering each caller once the commit is known, the figures a writer keeps, and which
//! writes share a group.
//!
//! A backend's writer (`sqlite/writer.rs`, a thread; `postgres/writer.rs`, a task) keeps
//! what differs: how a write runs (`PendingWrite`, sync or async), the transaction and its
//! savepoints, how large a group may grow, and its log lines.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use pipelog_core::export::ExportStatus;
use pipelog_core::ids::AccountId;
use pipelog_core::log_entry::LogLine;
use tokio::sync::{mpsc, oneshot};

use crate::idempotency::IdempotencyScope;
use crate::{CountHistogram, LogTarget, StoreError, StoreStats, Written};

/// Upper bounds of the buckets of writes per group commit.
const GROUP_SIZE_BOUNDS: [u64; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/// What a writer's queue carries. `W` is the backend's `dyn PendingWrite`.
pub(crate) enum Message<W: ?Sized> {
    Write(QueuedWrite<W>),
    Close,
}

pub(crate) struct QueuedWrite<W: ?Sized> {
    /// Writes with a group may be reordered among their neighbours to keep each group
    /// together; writes without one are barriers that nothing moves across.
    pub group: Option<u64>,
    /// Rows the write adds, for sizing groups.
    pub weight: usize,
    pub write: Box<W>,
}

/// A queued write, as far as answering it without running it goes. Each backend's
/// `PendingWrite` (which also runs it) builds on this.
pub(crate) trait Abandon: Send {
    /// Answers the caller without running the write.
    fn abandon(self: Box<Self>, error: StoreError);
}

/// Where a write's caller waits for its answer.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A write as queued: what runs (`op`, whose signature is the backend's) and who waits.
pub(crate) struct Operation<T, F> {
    pub op: F,
    pub reply: Reply<T>,
}

impl<T: Send, F: Send> Abandon for Operation<T, F> {
    fn abandon(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// A write that ran and waits for its group's commit.
pub(crate) trait AppliedWrite: Send {
    fn settle(self: Box<Self>, commit: Result<(), StoreError>);
}

struct Applied<T> {
    value: T,
    reply: Reply<T>,
}

impl<T: Send> AppliedWrite for Applied<T> {
    fn settle(self: Box<Self>, commit: Result<(), StoreError>) {
        // The caller may have gone away (a dropped request); the write stands either way.
        let Applied { value, reply } = *self;
        let _ = reply.send(commit.map(|()| value));
    }
}

/// Holds a write that ran (`outcome`; `Err` if it panicked) for its group's commit. A write
/// that failed has its caller answered at once (nothing of it will be committed), and
/// `None` comes back.
pub(crate) fn hold_for_commit<T: Send + 'static>(
    outcome: std::thread::Result<Result<T, StoreError>>,
    reply: Reply<T>,
) -> Option<Box<dyn AppliedWrite>> {
    let outcome = outcome.unwrap_or_else(|_| {
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

/// Queues a write (`write` builds it around the channel its answer comes back on) and
/// waits for that answer, which comes after the write's group committed. The write's value
/// comes with whether the write kept its request's answer; the request's idempotency
/// scope, if any, is told that, and that the write committed.
pub(crate) async fn submit<T, W: ?Sized>(
    queue: &mpsc::Sender<Message<W>>,
    group: Option<u64>,
    weight: usize,
    scope: Option<&IdempotencyScope>,
    write: impl FnOnce(Reply<(T, bool)>) -> Box<W>,
) -> Result<T, StoreError> {
    let (reply, answer) = oneshot::channel();
    let write = QueuedWrite {
        group,
        weight,
        write: write(reply),
    };
    queue
        .try_send(Message::Write(write))
        .map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
        })?;
    let outcome = answer.await.unwrap_or(Err(StoreError::Closed));
    if let (Some(scope), Ok((_, answered))) = (scope, &outcome) {
        scope.mark_written();
        if *answered {
            scope.mark_answered();
        }
    }
    outcome.map(|(value, _)| value)
}

/// How large a group may grow.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GroupLimits {
    /// At most this many writes...
    pub writes: usize,
    /// ...and, past the first write, at most about this many rows.
    pub rows: usize,
}

/// The writes of one group commit, and whether the writer was asked to close.
pub(crate) struct Group<W: ?Sized> {
    pub writes: Vec<QueuedWrite<W>>,
    /// A `Close` came: the writer stops after this group, and nothing queued after the
    /// `Close` is in it.
    pub closing: bool,
}

/// The group that begins with `first`: it and whatever else is queued now, within
/// `limits`, never waiting for more to arrive (a group is what piled up while the previous
/// one committed).
pub(crate) fn gather<W: ?Sized>(
    first: Message<W>,
    inbox: &mut mpsc::Receiver<Message<W>>,
    limits: GroupLimits,
) -> Group<W> {
    let mut writes = Vec::new();
    let mut rows = 0;
    let mut closing = false;
    match first {
        Message::Write(write) => {
            rows += write.weight;
            writes.push(write);
        }
        Message::Close => closing = true,
    }
    while !closing && writes.len() < limits.writes && rows < limits.rows {
        match inbox.try_recv() {
            Ok(Message::Write(write)) => {
                rows += write.weight;
                writes.push(write);
            }
            Ok(Message::Close) => closing = true,
            Err(_) => break,
        }
    }
    Group { writes, closing }
}

/// Keeps each group's writes together, in arrival order, without moving anything across a
/// barrier.
pub(crate) fn order_writes<W: ?Sized>(writes: &mut [QueuedWrite<W>]) {
    for run in writes.split_mut(|write| write.group.is_none()) {
        run.sort_by_key(|write| write.group);
    }
}

/// Fails a group that could not begin: none of its writes ran, and each caller gets
/// `error`.
pub(crate) fn abandon_group<W: Abandon + ?Sized>(
    writes: Vec<QueuedWrite<W>>,
    error: &StoreError,
    stats: &WriterStats,
) {
    stats.failed_group();
    for queued in writes {
        queued.write.abandon(error.clone());
    }
}

/// Ends a group once its commit's `outcome` is known: counts it, fails the writes it never
/// ran (`unrun`: a failed write could not be undone, and the group was rolled back), and
/// answers each write that ran (`applied`, which added `applied_rows` rows) with the
/// outcome.
pub(crate) fn settle_group<W: Abandon + ?Sized>(
    outcome: Result<(), StoreError>,
    applied: Vec<Box<dyn AppliedWrite>>,
    applied_rows: usize,
    unrun: impl Iterator<Item = QueuedWrite<W>>,
    stats: &WriterStats,
) {
    match &outcome {
        Ok(()) => stats.committed(applied.len(), applied_rows),
        Err(_) => stats.failed_group(),
    }
    for queued in unrun {
        queued.write.abandon(StoreError::Backend(
            "the group commit failed; the write was not run".into(),
        ));
    }
    for done in applied {
        done.settle(outcome.clone());
    }
}

/// What a writer counts as it commits.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
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

    fn failed_group(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The writer's `queues` now (one per lane it commits on), and what was committed so
    /// far.
    pub(crate) fn snapshot<'q, M: 'q>(
        &self,
        queues: impl IntoIterator<Item = &'q mpsc::Sender<M>>,
    ) -> WriterSnapshot {
        let mut buckets = Vec::with_capacity(GROUP_SIZE_BOUNDS.len());
        let mut below = 0;
        for (bound, groups) in GROUP_SIZE_BOUNDS.iter().zip(&self.groups) {
            below += groups.load(Ordering::Relaxed);
            buckets.push((*bound, below));
        }
        let count = below + self.groups[GROUP_SIZE_BOUNDS.len()].load(Ordering::Relaxed);
        let (queue_depth, queue_capacity) =
            queues.into_iter().fold((0, 0), |(depth, room), queue| {
                (
                    depth + queue.max_capacity() - queue.capacity(),
                    room + queue.max_capacity(),
                )
            });
        WriterSnapshot {
            queue_depth,
            queue_capacity,
            group_writes: CountHistogram {
                buckets,
                count,
                sum: self.writes.load(Ordering::Relaxed),
            },
            rows: self.rows.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// A writer's figures at one moment.
#[derive(Debug)]
pub(crate) struct WriterSnapshot {
    queue_depth: usize,
    queue_capacity: usize,
    group_writes: CountHistogram,
    rows: u64,
    failed: u64,
}

impl WriterSnapshot {
    /// The store's figures: the writer's, and the rest as the backend measured them.
    pub(crate) fn into_store_stats(
        self,
        written: Written,
        size_bytes: u64,
        exports: Vec<(ExportStatus, u64)>,
    ) -> StoreStats {
        StoreStats {
            write_queue_depth: self.queue_depth,
            write_queue_capacity: self.queue_capacity,
            commit_writes: self.group_writes,
            committed_rows: self.rows,
            failed_commits: self.failed,
            written,
            size_bytes,
            exports,
        }
    }
}

/// The group of a batch of lines: writes to the same execution share one, which keeps
/// them together (in arrival order) inside a group commit, so that their index pages are
/// written once per commit.
pub(crate) fn log_target_group(account: AccountId, target: &LogTarget) -> u64 {
    let mut hasher = DefaultHasher::new();
    account.hash(&mut hasher);
    match target {
        LogTarget::Execution(id) => id.hash(&mut hasher),
        LogTarget::Cid { cid, .. } => cid.hash(&mut hasher),
    }
    hasher.finish()
}

/// The group of several batches of lines in one write: the first batch's (a request
/// usually writes to one execution or two).
pub(crate) fn log_batches_group(account: AccountId, batches: &[(LogTarget, Vec<LogLine>)]) -> u64 {
    batches
        .first()
        .map_or(0, |(target, _)| log_target_group(account, target))
}

/// The group of a batch of operating items: an account's items share one, so that their
/// index pages are written once per commit.
pub(crate) fn operating_items_group(account: AccountId) -> u64 {
    let mut hasher = DefaultHasher::new();
    ("operating", account).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queued write that is only a tag, for watching the order.
    fn queued(group: Option<u64>, tag: u8) -> QueuedWrite<u8> {
        QueuedWrite {
            group,
            weight: 1,
            write: Box::new(tag),
        }
    }

    #[test]
    fn groups_are_gathered_in_arrival_order_and_barriers_stay_put() {
        let mut writes = vec![
            queued(Some(2), 1),
            queued(Some(1), 2),
            queued(Some(2), 3),
            queued(None, 4),
            queued(Some(1), 5),
            queued(Some(0), 6),
        ];
        order_writes(&mut writes);
        let order: Vec<u8> = writes.iter().map(|queued| *queued.write).collect();
        assert_eq!(order, vec![2, 1, 3, 4, 6, 5]);
    }
}
