//! Rate limits every node shares: GCRA, as the single-node limiter (governor) keeps it, with
//! each key's theoretical arrival time in the unlogged `rate_limits` table and the time
//! taken from PostgreSQL's clock, so nodes whose clocks differ still agree.

use std::num::NonZeroU32;
use std::time::Duration;

use pipelog_core::ids::KeyId;

use super::Db;
use crate::{RateDecision, StoreError};

/// Counts one request of `key`, limited to `per_minute` with the whole minute as a burst.
pub(super) async fn take(
    db: &Db,
    key: KeyId,
    per_minute: NonZeroU32,
) -> Result<RateDecision, StoreError> {
    let key = uuid::Uuid::from_bytes(*key.as_bytes());
    // Milliseconds between two requests at the steady rate, and the burst they add up to.
    let interval = (60_000 / i64::from(per_minute.get())).max(1);
    let burst = interval * i64::from(per_minute.get());
    // One statement in the common case: a new key, or an allowed request, moves the
    // arrival time on and returns it; a refused one returns nothing and changes nothing.
    let taken = db
        .prepare_cached(
            "WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now) \
             INSERT INTO rate_limits AS limits (key_id, tat) \
             SELECT $1, clock.now + $2 FROM clock \
             ON CONFLICT (key_id) DO UPDATE \
             SET tat = GREATEST(limits.tat, excluded.tat - $2) + $2 \
             WHERE GREATEST(limits.tat, excluded.tat - $2) + $2 - $3 <= excluded.tat - $2 \
             RETURNING tat, (SELECT now FROM clock)",
        )
        .await?;
    if let Some(row) = db.query_opt(&taken, &[&key, &interval, &burst]).await? {
        let (tat, now): (i64, i64) = (row.get(0), row.get(1));
        let ahead = (tat - now).max(0);
        let remaining = ((burst - ahead) / interval).max(0);
        return Ok(RateDecision::Allowed {
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset: Duration::from_millis(ahead as u64),
        });
    }
    let refused = db
        .prepare_cached(
            "SELECT tat, (extract(epoch FROM clock_timestamp()) * 1000)::bigint \
             FROM rate_limits WHERE key_id = $1",
        )
        .await?;
    let row = db.query_one(&refused, &[&key]).await?;
    let (tat, now): (i64, i64) = (row.get(0), row.get(1));
    Ok(RateDecision::Refused {
        retry_after: Duration::from_millis((tat + interval - burst - now).max(1) as u64),
    })
}
