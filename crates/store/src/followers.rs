//! Signals to whoever waits on the store: followers of an execution (the live tail), and
//! claimers waiting for an execution to be queued. Both backends tick them after a commit;
//! the PostgreSQL one also when another node says it committed.

use std::collections::HashMap;
use std::sync::Mutex;

use pipelog_core::ids::ExecutionId;
use tokio::sync::watch;

#[derive(Debug)]
pub(crate) struct Followers {
    /// Per execution someone follows.
    changes: Mutex<HashMap<ExecutionId, watch::Sender<u64>>>,
    queued: watch::Sender<u64>,
}

impl Default for Followers {
    fn default() -> Self {
        Followers {
            changes: Mutex::new(HashMap::new()),
            queued: watch::Sender::new(0),
        }
    }
}

impl Followers {
    /// Tells the followers of an execution that it changed.
    pub(crate) fn announce(&self, id: ExecutionId) {
        let changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = changes.get(&id) {
            sender.send_modify(|ticks| *ticks = ticks.wrapping_add(1));
        }
    }

    /// Tells everyone following anything: after a gap in what this node heard (its listener
    /// reconnected), any execution may have changed.
    pub(crate) fn announce_all(&self) {
        let changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        for sender in changes.values() {
            sender.send_modify(|ticks| *ticks = ticks.wrapping_add(1));
        }
        drop(changes);
        self.queued();
    }

    pub(crate) fn execution_changes(&self, id: ExecutionId) -> watch::Receiver<u64> {
        let mut changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        // Forget the executions nobody follows any more.
        changes.retain(|_, sender| sender.receiver_count() > 0);
        changes
            .entry(id)
            .or_insert_with(|| watch::Sender::new(0))
            .subscribe()
    }

    /// Tells claimers that an execution was queued.
    pub(crate) fn queued(&self) {
        self.queued
            .send_modify(|ticks| *ticks = ticks.wrapping_add(1));
    }

    pub(crate) fn queued_executions(&self) -> watch::Receiver<u64> {
        self.queued.subscribe()
    }

    /// How many claims are waiting for an execution to be queued.
    pub(crate) fn claims_waiting(&self) -> usize {
        self.queued.receiver_count()
    }
}
