//! Fuzzes what `POST /v1/logs` does with a body before the store
//! (`pipelog_server::decode_export`): OTLP protobuf or JSON, gzipped or not, decoded and
//! each record placed as a line or rejected, never a panic, never past the record limit,
//! and every line one the server can show.
//!
//! The first byte chooses how the rest is sent: bit 0 JSON (else protobuf); bit 1 gzipped
//! here first, so the fuzzer's mutations reach the decoder; bit 2 declared gzip as it is,
//! so they reach the gunzipping.
#![no_main]

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;

/// Small, so that a body that gunzips past it is within the fuzzer's reach.
const MAX_BYTES: usize = 64 * 1024;
/// The most records an export may hold (docs/api.md).
const MAX_RECORDS: usize = 10_000;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let content_type = if mode & 1 == 1 {
        "application/json"
    } else {
        "application/x-protobuf"
    };
    let zipped;
    let (content_encoding, body) = if mode & 2 == 2 {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(body).expect("gzip into memory");
        zipped = encoder.finish().expect("gzip into memory");
        ("gzip", zipped.as_slice())
    } else if mode & 4 == 4 {
        ("gzip", body)
    } else {
        ("identity", body)
    };
    if let Ok((batches, rejected)) =
        pipelog_server::decode_export(content_type, content_encoding, body, MAX_BYTES)
    {
        let placed: usize = batches.iter().map(|(_, lines)| lines.len()).sum();
        let refused: i64 = rejected.iter().map(|(count, _)| *count).sum();
        assert!(batches.iter().all(|(_, lines)| !lines.is_empty()));
        assert!(rejected.iter().all(|(count, _)| *count > 0));
        assert!(placed + refused as usize <= MAX_RECORDS);
        for (_, lines) in &batches {
            lines.iter().for_each(pipelog_fuzz::check_line_renders);
        }
    }
});
