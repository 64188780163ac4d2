//! Idempotent writes: the scope a request with an `Idempotency-Key` runs in, and what is
//! kept of its answer.
//!
//! The server runs such a request's handler inside [`IdempotencyScope::run`]. Every write
//! the store makes while the scope is set claims the key in the same savepoint as the
//! write itself, so a key is claimed exactly when the request's effects are committed:
//! a retry that finds no claim may safely run again, and one that finds a claim is
//! answered with the recorded answer, never applied twice. The claim also holds the
//! request's fingerprint, so a key reused for another request is refused.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pipelog_core::idempotency::{IdempotencyKey, RequestFingerprint};
use pipelog_core::ids::{AccountId, KeyId};
use pipelog_core::time::UtcTime;

tokio::task_local! {
    static SCOPE: Arc<IdempotencyScope>;
}

/// One attempt at a request that carries an `Idempotency-Key`. Keys belong to the API
/// key that sent them: another key, even of the same account, has keys of its own.
#[derive(Debug)]
pub struct IdempotencyScope {
    pub account: AccountId,
    pub api_key: KeyId,
    pub key: IdempotencyKey,
    pub fingerprint: RequestFingerprint,
    /// Tells this attempt's claim from a concurrent attempt's with the same key.
    pub(crate) attempt: [u8; 16],
    wrote: AtomicBool,
}

impl IdempotencyScope {
    pub fn new(
        account: AccountId,
        api_key: KeyId,
        key: IdempotencyKey,
        fingerprint: RequestFingerprint,
    ) -> Arc<Self> {
        Arc::new(IdempotencyScope {
            account,
            api_key,
            key,
            fingerprint,
            attempt: uuid::Uuid::new_v4().into_bytes(),
            wrote: AtomicBool::new(false),
        })
    }

    /// Runs `work` (the request's handler) with this scope set for the store's writes.
    pub async fn run<F: Future>(self: &Arc<Self>, work: F) -> F::Output {
        SCOPE.scope(Arc::clone(self), work).await
    }

    /// The scope of the task that is running, if it has one.
    pub(crate) fn current() -> Option<Arc<Self>> {
        SCOPE.try_with(Arc::clone).ok()
    }

    /// Whether a write of this attempt committed (and so claimed the key).
    pub fn wrote(&self) -> bool {
        self.wrote.load(Ordering::Acquire)
    }

    pub(crate) fn mark_written(&self) {
        self.wrote.store(true, Ordering::Release);
    }
}

/// A claimed key, as a retry finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub fingerprint: RequestFingerprint,
    pub claimed_at: UtcTime,
    /// `None` while the first attempt is still being answered, or when the server stopped
    /// after committing its effects and before recording its answer.
    pub answer: Option<RecordedAnswer>,
}

/// What the first attempt answered, to be answered again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    /// For an error answer, its message (the server renders the body again); otherwise
    /// `None` and `body` is the answer's body.
    pub error: Option<String>,
    pub body: Vec<u8>,
}
