//! pipelog's domain: the values every other crate passes around.
//!
//! Everything here is plain data with its rules attached: a value that exists is valid
//! (parse, don't validate). No I/O, no HTTP, no SQL; the store and the server convert to
//! and from these types at their edges.

pub mod text_enum;
pub mod time;
pub mod ids;
pub mod permission;
pub mod api_key;
pub mod console_session;
pub mod job;
pub mod execution;
pub mod log_entry;
pub mod paging;
pub mod audit;
pub mod find_query;
pub mod audit_events;
pub mod audit_digest;
pub mod export;
pub mod operating;
pub mod operating_stats;
pub mod gantt;
pub mod idempotency;
#[cfg(feature = "openapi")]
pub mod openapi;
