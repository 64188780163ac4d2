//! Work the server does in the background: removing deleted and expired log rows, expiring
//! old logs, building exports, removing expired exports, and forgetting idempotency keys
//! past their window and expired console sessions. Each runs until the server
//! stops; those that wait can be woken early.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pipelog_core::idempotency::IDEMPOTENCY_WINDOW_MS;
use pipelog_core::time::UtcTime;
use pipelog_store::StoreError;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::AppState;
use crate::exports::{self, Built};

/// Rows removed per commit while purging: small, so the writes grouped with a batch wait
/// little for it (10,000 tripled the p99 of concurrent ingest; see docs/benchmarks.md).
const PURGE_BATCH: usize = 2_000;
/// A claim on an export not renewed for this long is taken over.
const STALE_CLAIM: Duration = Duration::from_secs(30);

/// Wakes the background work early.
#[derive(Debug, Default)]
pub(crate) struct Maintenance {
    purge: Notify,
    build: Notify,
}

impl Maintenance {
    /// Lines were deleted or expired: remove their rows now rather than at the next tick.
    pub(crate) fn purge_soon(&self) {
        self.purge.notify_one();
    }

    /// An export was asked for.
    pub(crate) fn build_soon(&self) {
        self.build.notify_one();
    }
}

/// Starts every background task; each ends when `stopping` turns true.
pub(crate) fn spawn(state: &AppState) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(purge(state.clone())),
        tokio::spawn(expire(state.clone())),
        tokio::spawn(build_exports(state.clone())),
        tokio::spawn(remove_expired_exports(state.clone())),
        tokio::spawn(forget_old_records(state.clone())),
    ]
}

/// Waits for `wake`, `interval`, or the server stopping; false when it is stopping.
async fn pause(
    stopping: &mut watch::Receiver<bool>,
    wake: Option<&Notify>,
    interval: Duration,
) -> bool {
    let woken = async {
        match wake {
            Some(wake) => wake.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = woken => {}
        () = tokio::time::sleep(interval) => {}
        _ = stopping.wait_for(|stopping| *stopping) => {}
    }
    !*stopping.borrow()
}

async fn purge(state: AppState) {
    let mut stopping = state.stopping.clone();
    let maintenance: Arc<Maintenance> = Arc::clone(&state.maintenance);
    loop {
        match state.store.purge_deleted_logs(PURGE_BATCH).await {
            Ok(Some(rows)) => {
                tracing::trace!(rows, "purged deleted log rows");
                if *stopping.borrow() {
                    return;
                }
                // Let other writes in between batches.
                tokio::task::yield_now().await;
                continue;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "purging deleted log rows failed"),
        }
        if !pause(
            &mut stopping,
            Some(&maintenance.purge),
            state.config.maintenance_interval,
        )
        .await
        {
            return;
        }
    }
}

async fn expire(state: AppState) {
    let mut stopping = state.stopping.clone();
    loop {
        let now = pipelog_core::time::UtcTime::now();
        match state
            .store
            .expire_logs(state.config.default_log_retention_days, now)
            .await
        {
            Ok(0) => {}
            Ok(lines) => {
                tracing::info!(lines, "expired execution log lines past their retention");
                state.maintenance.purge_soon();
            }
            Err(error) => tracing::warn!(%error, "expiring old execution logs failed"),
        }
        if !pause(&mut stopping, None, state.config.maintenance_interval).await {
            return;
        }
    }
}

async fn build_exports(state: AppState) {
    let mut stopping = state.stopping.clone();
    let maintenance: Arc<Maintenance> = Arc::clone(&state.maintenance);
    loop {
        match state.store.claim_export(STALE_CLAIM).await {
            Ok(Some(job)) => {
                tracing::info!(token = %job.token, lines = job.lines(), "building an export");
                let outcome = match exports::build(&state, &job, &stopping).await {
                    Built::Done(bytes) => Ok(bytes),
                    Built::Failed(reason) => {
                        tracing::error!(token = %job.token, %reason, "export failed");
                        Err(reason)
                    }
                    Built::Interrupted => return,
                };
                if let Err(error) = state.store.finish_export(job.token, outcome).await {
                    tracing::error!(%error, token = %job.token, "cannot record an export's end");
                }
                continue;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "claiming an export failed"),
        }
        if !pause(
            &mut stopping,
            Some(&maintenance.build),
            Duration::from_secs(5),
        )
        .await
        {
            return;
        }
    }
}

async fn remove_expired_exports(state: AppState) {
    let mut stopping = state.stopping.clone();
    loop {
        match state.store.expired_exports(100).await {
            Ok(expired) => {
                for job in expired {
                    let path = exports::file_path(&state.config.exports_dir, &job);
                    match tokio::fs::remove_file(&path).await {
                        Ok(()) => {}
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                        Err(error) => {
                            tracing::warn!(%error, path = %path.display(), "cannot remove an expired export");
                            continue;
                        }
                    }
                    if let Err(error) = state.store.delete_export(job.token).await {
                        tracing::warn!(%error, "cannot forget an expired export");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "listing expired exports failed"),
        }
        remove_abandoned_parts(&state.config.exports_dir).await;
        if !pause(&mut stopping, None, state.config.maintenance_interval).await {
            return;
        }
    }
}

/// A `.part` file nobody wrote to for this long was left by a builder that died (a node
/// killed mid-export); another builder has started the export again in a file of its own.
const ABANDONED_PART: Duration = Duration::from_secs(600);

async fn remove_abandoned_parts(dir: &std::path::Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        if path.extension().is_none_or(|extension| extension != "part") {
            continue;
        }
        let idle = entry
            .metadata()
            .await
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok());
        if idle.is_some_and(|idle| idle >= ABANDONED_PART) {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "removed an abandoned export part")
                }
                Err(error) => {
                    tracing::warn!(%error, path = %path.display(), "cannot remove an abandoned export part")
                }
            }
        }
    }
}

/// Idempotency keys (and expired console sessions) forgotten per commit.
const FORGET_BATCH: usize = 1_000;

async fn forget_old_records(state: AppState) {
    let mut stopping = state.stopping.clone();
    loop {
        let cutoff = UtcTime::now().unix_millis() - IDEMPOTENCY_WINDOW_MS;
        if let Some(before) = UtcTime::from_unix_millis(cutoff) {
            in_full_batches("forgetting old idempotency keys", || {
                state.store.expire_idempotency_keys(before, FORGET_BATCH)
            })
            .await;
        }
        // Expired console sessions no longer open anything: this only frees space.
        in_full_batches("removing expired console sessions", || {
            state.store.expire_sessions(UtcTime::now(), FORGET_BATCH)
        })
        .await;
        if !pause(&mut stopping, None, state.config.maintenance_interval).await {
            return;
        }
    }
}

/// Runs `batch` (which removes up to [`FORGET_BATCH`] rows) again while it comes back full;
/// a failure is logged as `what` failing, and waits for the next round.
async fn in_full_batches<F, Fut>(what: &str, mut batch: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    loop {
        match batch().await {
            Ok(removed) if removed as usize == FORGET_BATCH => {}
            Ok(_) => break,
            Err(error) => {
                tracing::warn!(%error, "{what} failed");
                break;
            }
        }
    }
}
