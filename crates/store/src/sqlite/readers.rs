//! Reader connections: reads run on blocking threads, each on a connection of its own,
//! at most `max_readers` at once.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::{Durability, Role, open_connection};
use crate::StoreError;

#[derive(Debug)]
pub(super) struct Readers {
    pool: Arc<Pool>,
}

struct Pool {
    path: PathBuf,
    durability: Durability,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Readers {
    pub(super) fn new(path: PathBuf, durability: Durability, max_readers: usize) -> Self {
        Readers {
            pool: Arc::new(Pool {
                path,
                durability,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(max_readers.max(1))),
            }),
        }
    }

    /// Runs `op` on a reader connection, off the async runtime.
    pub(super) async fn read<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.pool.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let connection = pool.checkout()?;
            let outcome = catch_unwind(AssertUnwindSafe(|| op(&connection)));
            match outcome {
                Ok(result) => {
                    pool.checkin(connection);
                    result
                }
                Err(_) => Err(StoreError::Backend("a read panicked".into())),
            }
        })
        .await
        .map_err(|error| StoreError::Backend(format!("a read task failed: {error}")))?
    }

    /// Refuses further reads and closes idle connections.
    pub(super) fn close(&self) {
        self.pool.permits.close();
        self.pool
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl Pool {
    fn checkout(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(connection) => Ok(connection),
            None => open_connection(&self.path, self.durability, Role::Reader),
        }
    }

    fn checkin(&self, connection: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(connection);
    }
}
