//! Schema migrations: numbered `.sql` files applied in order, each store recording its
//! version in SQLite's `user_version`.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// Every migration, oldest first. The schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_audit.sql"),
    include_str!("migrations/0003_execution_logs.sql"),
    include_str!("migrations/0004_operating_logs.sql"),
    include_str!("migrations/0005_log_attributes.sql"),
    include_str!("migrations/0006_idempotency.sql"),
    include_str!("migrations/0007_client_line_ids.sql"),
    include_str!("migrations/0008_client_item_ids.sql"),
    include_str!("migrations/0009_console_sessions.sql"),
];

/// Brings the store's schema up to date. Safe when two processes open one store at once:
/// the version is read and migrations run inside one write transaction.
pub(super) fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: usize = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the store has schema version {version}, written by a newer pipelog; this one knows up to {}",
            MIGRATIONS.len()
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        transaction.execute_batch(migration).map_err(|error| {
            StoreError::Backend(format!("migration {} failed: {error}", index + 1))
        })?;
    }
    transaction.pragma_update(None, "user_version", MIGRATIONS.len())?;
    transaction.commit()?;
    Ok(())
}

/// Whether the schema is the one this pipelog writes (another process may have opened the
/// file and migrated it further).
pub(super) fn check_current(connection: &Connection) -> Result<(), StoreError> {
    let version: usize = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == MIGRATIONS.len() {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "the store has schema version {version}; this pipelog needs {}",
            MIGRATIONS.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op_and_records_the_version() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection).unwrap();
        migrate(&mut connection).unwrap();
        let version: usize = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .pragma_update(None, "user_version", MIGRATIONS.len() + 1)
            .unwrap();
        let error = migrate(&mut connection).unwrap_err();
        assert!(error.to_string().contains("newer pipelog"), "{error}");
    }

    #[test]
    fn only_the_current_schema_is_ready() {
        let mut connection = Connection::open_in_memory().unwrap();
        assert!(
            check_current(&connection).is_err(),
            "an empty file is not ready"
        );
        migrate(&mut connection).unwrap();
        check_current(&connection).unwrap();
        connection
            .pragma_update(None, "user_version", MIGRATIONS.len() + 1)
            .unwrap();
        let error = check_current(&connection).unwrap_err();
        assert!(error.to_string().contains("schema version"), "{error}");
    }
}
