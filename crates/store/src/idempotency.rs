//! Idempotent writes: the scope a request with an `Idempotency-Key` runs in, and what is
//! kept of its answer.
//!
//! The server runs such a request's handler inside [`IdempotencyScope::run`]. Every write
//! the store makes while the scope is set claims the key in the same savepoint as the
//! write itself, so a key is claimed exactly when the request's effects are committed:
//! a retry that finds no claim may safely run again, and one that finds a claim is
//! answered with the recorded answer, never applied twice. The claim also holds the
//! request's fingerprint, so a key reused for another request is refused.
//!
//! A handler whose answer is a function of what one write returns says so with
//! [`answer_with`]: the answer is then rendered by the writer and kept in that write's
//! savepoint, so even a crash right after the commit leaves the answer for the retry.
//! Other answers are kept by the server in a second commit once the handler returns.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pipelog_core::idempotency::{IDEMPOTENCY_WINDOW_MS, IdempotencyKey, RequestFingerprint};
use pipelog_core::ids::{AccountId, KeyId};
use pipelog_core::time::UtcTime;

use crate::StoreError;

tokio::task_local! {
    static SCOPE: Arc<IdempotencyScope>;
}

/// Renders a request's answer from what a write returned, if it is of the expected type.
pub(crate) type Render = Arc<dyn Fn(&dyn Any) -> Option<RecordedAnswer> + Send + Sync>;

/// One attempt at a request that carries an `Idempotency-Key`. Keys belong to the API
/// key that sent them: another key, even of the same account, has keys of its own.
pub struct IdempotencyScope {
    pub account: AccountId,
    pub api_key: KeyId,
    pub key: IdempotencyKey,
    pub fingerprint: RequestFingerprint,
    /// Tells this attempt's claim from a concurrent attempt's with the same key.
    pub(crate) attempt: [u8; 16],
    wrote: AtomicBool,
    answered: AtomicBool,
    render: Mutex<Option<Render>>,
}

impl std::fmt::Debug for IdempotencyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyScope")
            .field("account", &self.account)
            .field("api_key", &self.api_key)
            .field("key", &self.key)
            .field("wrote", &self.wrote)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
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
            answered: AtomicBool::new(false),
            render: Mutex::new(None),
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

    /// Whether the answer was kept with a committed write (see [`answer_with`]).
    pub fn answered(&self) -> bool {
        self.answered.load(Ordering::Acquire)
    }

    pub(crate) fn mark_answered(&self) {
        self.answered.store(true, Ordering::Release);
    }

    /// How the writes submitted from now on render the answer, if they should.
    pub(crate) fn render(&self) -> Option<Render> {
        self.render
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Whether the claim on the key, held by `holder`, is this attempt's; a live claim of
    /// another attempt fails the write.
    pub(crate) fn check_claim(&self, holder: [u8; 16]) -> Result<(), StoreError> {
        if holder == self.attempt {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "another request with Idempotency-Key `{}` was applied or is being applied; retry it to get that request's answer",
                self.key
            )))
        }
    }
}

/// Where the idempotency window as of `now` begins, in Unix milliseconds: a claim made
/// before it has expired (and may be taken over).
pub(crate) fn window_start(now: UtcTime) -> i64 {
    now.unix_millis().saturating_sub(IDEMPOTENCY_WINDOW_MS)
}

/// Says that the request's answer is `render` of what its next write returning a `T`
/// returns: when the request runs in an [`IdempotencyScope`], that write keeps the answer
/// in its own savepoint. Without a scope it does nothing. `render` must be the very
/// function the handler answers with, so that the kept answer is the one sent.
pub fn answer_with<T: 'static>(render: impl Fn(&T) -> RecordedAnswer + Send + Sync + 'static) {
    if let Some(scope) = IdempotencyScope::current() {
        let render: Render =
            Arc::new(move |value: &dyn Any| value.downcast_ref::<T>().map(&render));
        *scope
            .render
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(render);
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
