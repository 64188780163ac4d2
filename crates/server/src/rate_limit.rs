//! Per-key rate limits and the `RateLimit-*` headers that report them.
//!
//! Each limited key gets a GCRA limiter allowing its per-minute figure as a burst that
//! refills evenly: a key limited to 50 per minute may send 50 at once, then one more every
//! 1.2 s. A store that many nodes share keeps the limiter's state itself, so a key's limit
//! holds across nodes (`Store::take_rate_limit`); otherwise this node keeps it in memory
//! (governor).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use pipelog_core::api_key::{ApiKey, RateLimit};
use pipelog_core::ids::KeyId;
use pipelog_store::{RateDecision, Store, StoreError};

type KeyLimiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

static LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Every key's limiter, made on first use.
#[derive(Debug)]
pub(crate) struct RateLimits {
    default: RateLimit,
    clock: DefaultClock,
    limiters: Mutex<HashMap<KeyId, Arc<KeyLimiter>>>,
}

/// What the limiter said about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Unlimited,
    Allowed {
        limit: u32,
        remaining: u32,
        /// Seconds until the full burst is available again.
        reset_secs: u64,
    },
    Refused {
        limit: u32,
        retry_after_secs: u64,
    },
}

impl RateLimits {
    pub(crate) fn new(default: RateLimit) -> Self {
        RateLimits {
            default,
            clock: DefaultClock::default(),
            limiters: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `key`, where its limit is kept (the store, or this node), and
    /// says whether it may go on.
    pub(crate) async fn decide(
        &self,
        store: &dyn Store,
        key: &ApiKey,
    ) -> Result<Decision, StoreError> {
        let RateLimit::PerMinute(per_minute) = effective_limit(key, self.default) else {
            return Ok(Decision::Unlimited);
        };
        let limit = per_minute.get();
        Ok(match store.take_rate_limit(key.id, per_minute).await? {
            None => self.check(key),
            Some(RateDecision::Allowed { remaining, reset }) => Decision::Allowed {
                limit,
                remaining,
                reset_secs: whole_secs(reset),
            },
            Some(RateDecision::Refused { retry_after }) => Decision::Refused {
                limit,
                retry_after_secs: whole_secs(retry_after),
            },
        })
    }

    /// Counts one request of `key` on this node and says whether it may go on.
    pub(crate) fn check(&self, key: &ApiKey) -> Decision {
        let RateLimit::PerMinute(per_minute) = effective_limit(key, self.default) else {
            return Decision::Unlimited;
        };
        let limiter = self.limiter(key.id, per_minute);
        let limit = per_minute.get();
        match limiter.check() {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                Decision::Allowed {
                    limit,
                    remaining,
                    reset_secs: refill_secs(limit, limit.saturating_sub(remaining)),
                }
            }
            Err(not_until) => Decision::Refused {
                limit,
                retry_after_secs: whole_secs(not_until.wait_time_from(self.clock.now())),
            },
        }
    }

    fn limiter(&self, id: KeyId, per_minute: NonZeroU32) -> Arc<KeyLimiter> {
        let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        let limiter = limiters.entry(id).or_insert_with(|| {
            Arc::new(
                RateLimiter::direct_with_clock(Quota::per_minute(per_minute), self.clock.clone())
                    .with_middleware::<StateInformationMiddleware>(),
            )
        });
        Arc::clone(limiter)
    }
}

/// The limit that applies to `key`, with the server's default filled in.
pub(crate) fn effective_limit(key: &ApiKey, default: RateLimit) -> RateLimit {
    key.rate_limit.resolve(default)
}

/// A wait in whole seconds, rounded up.
fn whole_secs(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Seconds for `used` spent requests to come back, at `limit` per minute.
fn refill_secs(limit: u32, used: u32) -> u64 {
    (u64::from(used) * 60).div_ceil(u64::from(limit.max(1)))
}

impl Decision {
    /// Writes `RateLimit-Limit`, `-Remaining` and `-Reset` (none for an unlimited key).
    pub(crate) fn write_headers(self, headers: &mut HeaderMap) {
        let (limit, remaining, reset) = match self {
            Decision::Unlimited => return,
            Decision::Allowed {
                limit,
                remaining,
                reset_secs,
            } => (limit, remaining, reset_secs),
            Decision::Refused {
                limit,
                retry_after_secs,
            } => (limit, 0, retry_after_secs),
        };
        headers.insert(LIMIT.clone(), HeaderValue::from(limit));
        headers.insert(REMAINING.clone(), HeaderValue::from(remaining));
        headers.insert(RESET.clone(), HeaderValue::from(reset));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipelog_core::api_key::KeyRole;
    use pipelog_core::ids::{AccountId, AccountName};
    use pipelog_core::permission::PermissionSet;
    use pipelog_core::time::UtcTime;

    fn key(rate_limit: RateLimit) -> ApiKey {
        ApiKey {
            id: KeyId::generate(),
            account_id: AccountId::new(1),
            account: AccountName::default_account(),
            name: None,
            permissions: PermissionSet::all(),
            rate_limit,
            role: KeyRole::Account,
            agent: None,
            created_at: UtcTime::now(),
            revoked_at: None,
        }
    }

    #[test]
    fn a_burst_of_the_limit_passes_then_the_next_is_refused() {
        let limits = RateLimits::new(RateLimit::from_option(Some(3)));
        let key = key(RateLimit::ServerDefault);
        let remaining: Vec<_> = (0..3)
            .map(|_| match limits.check(&key) {
                Decision::Allowed {
                    remaining, limit, ..
                } => {
                    assert_eq!(limit, 3);
                    remaining
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        match limits.check(&key) {
            Decision::Refused {
                limit,
                retry_after_secs,
            } => {
                assert_eq!(limit, 3);
                assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keys_are_limited_apart_and_zero_means_none() {
        let limits = RateLimits::new(RateLimit::from_option(Some(1)));
        let one = key(RateLimit::ServerDefault);
        let two = key(RateLimit::ServerDefault);
        assert!(matches!(limits.check(&one), Decision::Allowed { .. }));
        assert!(matches!(limits.check(&two), Decision::Allowed { .. }));
        assert!(matches!(limits.check(&one), Decision::Refused { .. }));
        let free = key(RateLimit::Unlimited);
        for _ in 0..100 {
            assert_eq!(limits.check(&free), Decision::Unlimited);
        }
    }

    #[test]
    fn refill_time_is_rounded_up() {
        assert_eq!(refill_secs(50, 0), 0);
        assert_eq!(refill_secs(50, 1), 2);
        assert_eq!(refill_secs(50, 50), 60);
    }
}
