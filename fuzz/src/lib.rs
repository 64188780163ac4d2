//! What the fuzz targets share: the checks every decoded log line must pass.

use pipelog_core::log_entry::LogLine;

/// A line the server accepts must be one it can show: every part of it renders the way
/// the answers render it (a time that parses but cannot be shown once made a log
/// unreadable).
pub fn check_line_renders(line: &LogLine) {
    assert!(
        line.message.as_str().len() <= 1024 * 1024,
        "a message over 1 MiB"
    );
    if let Some(time) = line.timestamp {
        let shown = time.to_string();
        assert_eq!(
            pipelog_core::time::UtcTime::parse(&shown).ok(),
            Some(time),
            "a time shown as {shown} does not read back"
        );
    }
    if let Some(attributes) = &line.attributes {
        let _ = attributes.to_json();
    }
}
