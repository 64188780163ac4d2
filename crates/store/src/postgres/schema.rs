//! Schema migrations: numbered `.sql` files applied in order, the versions applied kept in
//! `pipelog_schema`. Nodes starting at once take turns on an advisory lock, so each
//! migration runs exactly once; PostgreSQL's DDL is transactional, so a migration that
//! fails leaves nothing half-done.

use super::Db;
use crate::StoreError;

/// Every migration, oldest first. The schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_console_sessions.sql"),
];

/// The schema version this pipelog writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The advisory lock migrations hold: "pipelog" in ASCII, as a number.
const MIGRATION_LOCK: i64 = 0x0070_6970_656c_6f67;

/// Brings the database's schema up to date.
pub(super) async fn migrate(db: &mut Db) -> Result<(), StoreError> {
    let transaction = db.transaction().await?;
    // Held until the transaction ends: a node that waited here finds the migrations done.
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS pipelog_schema (\
                version    integer     PRIMARY KEY, \
                applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let version = applied(&*transaction).await?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database has schema version {version}, written by a newer pipelog; this one knows up to {}",
            MIGRATIONS.len()
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        let number = index + 1;
        transaction
            .batch_execute(migration)
            .await
            .map_err(|error| StoreError::Backend(format!("migration {number} failed: {error}")))?;
        transaction
            .execute(
                "INSERT INTO pipelog_schema (version) VALUES ($1)",
                &[&(number as i32)],
            )
            .await?;
        tracing::info!(version = number, "schema migrated");
    }
    transaction.commit().await?;
    Ok(())
}

/// The highest version applied (0 for an empty database).
async fn applied(db: &impl tokio_postgres::GenericClient) -> Result<usize, StoreError> {
    let version: Option<i32> = db
        .query_one("SELECT max(version) FROM pipelog_schema", &[])
        .await?
        .get(0);
    Ok(version.map_or(0, |version| version as usize))
}

/// Whether the schema is the one this pipelog writes (a newer node may have migrated it
/// further).
pub(super) async fn check_current(db: &Db) -> Result<(), StoreError> {
    let version = applied(&**db).await?;
    if version == MIGRATIONS.len() {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "the database has schema version {version}; this pipelog needs {}",
            MIGRATIONS.len()
        )))
    }
}
