//! Fuzzes the JSON log line bodies before the store: the native bulk append
//! (`pipelog_server::decode_append_body`, a JSON array or NDJSON) and the Data Factory
//! line of seed 000 (`pipelog_server::decode_data_factory_log`, a `cid` header and a JSON
//! body). Lines or a refusal, never a panic, never more lines than a request may append,
//! and every line one the server can show.
//!
//! The first byte chooses the route: 0 a JSON array, 1 NDJSON, 2 the Data Factory (the
//! `cid` header, a newline, the body), 3 the native route with the content type given
//! (the type, a newline, the body).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The most lines one request may append (docs/api.md).
const MAX_BATCH_ENTRIES: usize = 10_000;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let lines = match mode % 4 {
        0 => pipelog_server::decode_append_body("application/json", rest),
        1 => pipelog_server::decode_append_body("application/x-ndjson", rest),
        2 => {
            let (cid, body) = split_line(rest);
            if let Ok((_, _, line)) = pipelog_server::decode_data_factory_log(cid, body) {
                pipelog_fuzz::check_line_renders(&line);
            }
            return;
        }
        _ => {
            let (content_type, body) = split_line(rest);
            let Ok(content_type) = std::str::from_utf8(content_type) else {
                return;
            };
            pipelog_server::decode_append_body(content_type, body)
        }
    };
    if let Ok(lines) = lines {
        assert!(lines.len() <= MAX_BATCH_ENTRIES, "{} lines", lines.len());
        lines.iter().for_each(pipelog_fuzz::check_line_renders);
    }
});

/// The bytes before the first newline, and those after it.
fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|byte| *byte == b'\n') {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &[]),
    }
}
