//! The benchmark on PostgreSQL (`--postgres URL`): pipelog serving a database of its own
//! on that server, and the bulk load's ceiling there, a plain binary `COPY` of the same rows
//! into pipelog's own schema, one transaction per request's worth of rows, on one
//! connection.

use std::time::{Duration, Instant};

use anyhow::Context;
use pipelog_core::time::UtcTime;
use pipelog_store::Store;
use pipelog_store::postgres::scratch::ScratchDatabase;
use pipelog_store::postgres::{PostgresOptions, PostgresStore};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::ceilings::RawIngest;
use crate::workload::{Scale, bulk_lines};

/// A client on `url`, its connection driven in the background.
pub async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("cannot connect to PostgreSQL")?;
    tokio::spawn(connection);
    Ok(client)
}

/// What the table of log lines takes on disk, its indexes and TOAST included.
pub async fn lines_bytes(url: &str) -> anyhow::Result<u64> {
    let client = connect(url).await?;
    let bytes: i64 = client
        .query_one("SELECT pg_total_relation_size('execution_logs')", &[])
        .await?
        .get(0);
    Ok(u64::try_from(bytes)?)
}

/// The columns the ceiling writes: pipelog's own, as its `COPY` writes them.
const COPY: &str = "COPY execution_logs (account_id, execution_id, seq, created_at, \
     event_time, severity, message_type, emitter_name, event_correlation_id, message) \
     FROM STDIN (FORMAT binary)";

const TYPES: [Type; 10] = [
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT2,
    Type::INT2,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
];

/// The bulk load's rows copied into a fresh database on the server of `admin_url`, with
/// pipelog's schema (a store opened there and closed): one commit per `per_commit` of its
/// batches of 1,000, each to the execution of its first batch, as pipelog is sent them.
pub async fn raw_copy_ingest(
    admin_url: &str,
    scale: &Scale,
    per_commit: u64,
) -> anyhow::Result<RawIngest> {
    let database = ScratchDatabase::create(admin_url).await?;
    let store = PostgresStore::open(&database.url, PostgresOptions::default()).await?;
    store.close().await?;
    drop(store);
    let client = connect(&database.url).await?;
    let statement = client.prepare(COPY).await?;
    let mut next_seq = vec![0i64; scale.executions() as usize];
    let mut elapsed = Duration::ZERO;
    let mut rows = 0;
    for number in 0..scale.bulk_batches() / per_commit {
        let lines = bulk_lines(number * per_commit, per_commit);
        let execution = scale.execution_of_batch(number * per_commit);
        let seq = &mut next_seq[execution as usize];
        let started = Instant::now();
        let created_at = UtcTime::now().unix_millis();
        client.batch_execute("BEGIN").await?;
        let sink = client.copy_in(&statement).await?;
        let writer = BinaryCopyInWriter::new(sink, &TYPES);
        let mut writer = std::pin::pin!(writer);
        for line in &lines {
            let row: [&(dyn ToSql + Sync); 10] = [
                &1_i64,
                &(execution as i64 + 1),
                &*seq,
                &created_at,
                &None::<i64>,
                &i16::from(line.severity.rank()),
                &i16::from(line.message_type.rank()),
                &line.emitter_name,
                &line.event_correlation_id,
                &line.message.as_bytes(),
            ];
            writer.as_mut().write(&row).await?;
            *seq += 1;
        }
        writer.finish().await?;
        client.batch_execute("COMMIT").await?;
        elapsed += started.elapsed();
        rows += lines.len() as u64;
    }
    let bytes_used = lines_bytes(&database.url).await?;
    drop(client);
    database.drop_database().await?;
    Ok(RawIngest {
        rows,
        elapsed,
        bytes_used,
    })
}
