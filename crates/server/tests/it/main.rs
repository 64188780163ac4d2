//! pipelog's HTTP integration suite: each test starts the real server on port 0 over a
//! fresh data dir and talks HTTP to it.

mod app;

mod audit;
mod auth;
mod claim;
mod data_factory;
mod errors;
mod executions;
mod isolation;
mod keys;
mod logs;
mod rate_limit;
mod shutdown;
mod talend;
mod exports;
mod tail;
mod retention;
mod operating;
mod operations;
mod metrics;
mod lineage;
mod otlp;
mod hostile;
mod openapi;
mod idempotency;
mod console;
