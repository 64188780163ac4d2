//! How client commands print what they read: a table for people (the default), or the
//! server's JSON for scripts (`--output json`).

use std::io::Write;

use clap::{Args, ValueEnum};
use serde_json::Value;

/// Whether to colour what goes to a stream: only when it is a terminal, and `NO_COLOR` is
/// unset or empty (no-color.org: an empty value asks for nothing).
pub fn colour(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// The server's JSON, one document (a list: one object per line, as NDJSON).
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// `table` (default) or `json`.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// A table: a header, then rows of cells, each column as wide as its widest cell.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: Vec<&'static str>) -> Table {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|title| title.len()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut text = String::new();
            for (index, (cell, width)) in cells.zip(&widths).enumerate() {
                if index > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                if index + 1 < widths.len() {
                    text.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
                }
            }
            text
        };
        writeln!(out, "{}", line(&mut self.header.iter().copied()))?;
        for row in &self.rows {
            writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
        }
        Ok(())
    }
}

/// A JSON document on one line.
pub fn print_json(out: &mut impl Write, value: &Value) -> std::io::Result<()> {
    writeln!(out, "{value}")
}

/// A string field, or `-` when it is absent.
pub fn field(value: &Value, name: &str) -> String {
    match &value[name] {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut table = Table::new(vec!["ID", "STATUS", "JOB"]);
        table.row(vec!["a".into(), "RUNNING".into(), "nightly".into()]);
        table.row(vec!["bcd".into(), "QUEUED".into(), "x".into()]);
        let mut out = Vec::new();
        table.print(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID   STATUS   JOB\na    RUNNING  nightly\nbcd  QUEUED   x\n"
        );
    }
}
