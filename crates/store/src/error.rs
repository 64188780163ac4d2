//! What a store call can fail with. The server maps these to status codes.

/// A store call's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The thing does not exist, or belongs to another account (which is the same to the caller).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The request is valid but the current state forbids it (an ended execution, say).
    #[error("{0}")]
    Conflict(String),
    /// A paging cursor that points at nothing this caller can see.
    #[error("the cursor does not point into this list")]
    InvalidCursor,
    /// The write queue is full: try again shortly.
    #[error("the store's write queue is full")]
    Overloaded,
    /// The store was closed and takes no more work.
    #[error("the store is closed")]
    Closed,
    /// The backend failed (disk full, I/O error, corrupt file, a bug). Logged by the server,
    /// never shown to clients.
    #[error("storage backend failed: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Backend(error.to_string())
    }
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(error: rusqlite::types::FromSqlError) -> Self {
        StoreError::Backend(error.to_string())
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        // A deadlock between two nodes' group commits, or a serialisation failure: the
        // write did nothing and may simply be sent again.
        if let Some(code) = error.code()
            && (*code == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                || *code == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE)
        {
            return StoreError::Overloaded;
        }
        // The database error's own message and detail, not the client's wrapper text.
        if let Some(db) = error.as_db_error() {
            return StoreError::Backend(format!("PostgreSQL: {}", db.message()));
        }
        // A failure on this side (a parameter that does not encode, a lost connection):
        // its causes say what went wrong, the error itself only where.
        let mut message = format!("PostgreSQL: {error}");
        let mut cause = std::error::Error::source(&error);
        while let Some(inner) = cause {
            message.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        StoreError::Backend(message)
    }
}
