//! The results: a table for people (each pipelog figure beside its ceiling, the ratio and
//! its target) and a JSON document for machines.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

/// A bound a ratio should keep.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Target {
    fn met(self, ratio: f64) -> bool {
        match self {
            Target::AtLeast(bound) => ratio >= bound,
            Target::AtMost(bound) => ratio <= bound,
        }
    }

    fn describe(self) -> String {
        match self {
            Target::AtLeast(bound) => format!(">= {bound}"),
            Target::AtMost(bound) => format!("<= {bound}"),
        }
    }
}

#[derive(Debug)]
struct Row {
    what: String,
    figure: String,
    ceiling: String,
    ratio: String,
    target: String,
}

/// Everything measured, in the order it was measured.
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<Row>,
    figures: Map<String, Value>,
    targets: Vec<Value>,
}

impl Report {
    /// A figure with no ceiling of its own.
    pub fn figure(&mut self, key: &str, what: &str, shown: String, value: Value) {
        self.measured(key, what, shown, String::new(), value);
    }

    /// A ceiling, measured for the ratios that follow.
    pub fn ceiling(&mut self, key: &str, what: &str, shown: String, value: Value) {
        self.measured(key, what, String::new(), shown, value);
    }

    fn measured(&mut self, key: &str, what: &str, figure: String, ceiling: String, value: Value) {
        self.rows.push(Row {
            what: what.to_owned(),
            figure,
            ceiling,
            ratio: String::new(),
            target: String::new(),
        });
        self.figures.insert(key.to_owned(), value);
    }

    /// A ratio against a ceiling (or another figure), and the target it should meet.
    pub fn ratio(&mut self, key: &str, what: &str, ratio: f64, target: Target) {
        let met = target.met(ratio);
        self.rows.push(Row {
            what: what.to_owned(),
            figure: String::new(),
            ceiling: String::new(),
            ratio: format!("{ratio:.2}"),
            target: format!(
                "{} {}",
                target.describe(),
                if met { "met" } else { "MISSED" }
            ),
        });
        self.targets.push(json!({
            "name": key,
            "what": what,
            "ratio": round(ratio, 3),
            "target": target.describe(),
            "met": met,
        }));
    }

    /// A figure already measured.
    pub fn figure_value(&self, key: &str) -> Option<&Value> {
        self.figures.get(key)
    }

    pub fn missed(&self) -> usize {
        self.targets
            .iter()
            .filter(|target| target["met"] == Value::Bool(false))
            .count()
    }

    pub fn table(&self) -> String {
        let headers = ["what", "pipelog", "ceiling", "ratio", "target"];
        let cells = |row: &Row| {
            [
                row.what.clone(),
                row.figure.clone(),
                row.ceiling.clone(),
                row.ratio.clone(),
                row.target.clone(),
            ]
        };
        let mut widths = headers.map(str::len);
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(cells(row)) {
                *width = (*width).max(cell.len());
            }
        }
        let mut table = String::new();
        let mut line = |cells: [String; 5]| {
            for (cell, width) in cells.iter().zip(widths) {
                let _ = write!(table, "| {cell:width$} ");
            }
            table.push_str("|\n");
        };
        line(headers.map(str::to_owned));
        line(widths.map(|width| "-".repeat(width)));
        for row in &self.rows {
            line(cells(row));
        }
        table
    }

    pub fn json(&self, run: Value) -> Value {
        json!({
            "run": run,
            "figures": self.figures,
            "targets": self.targets,
        })
    }
}

/// `value` to `digits` decimals, for JSON that reads well.
pub fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// `1234567.8` as `1,234,568`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut shown = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            shown.push(',');
        }
        shown.push(digit);
    }
    shown
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.8), "1,234,568");
    }

    #[test]
    fn a_missed_target_is_counted_and_shown() {
        let mut report = Report::default();
        report.ratio("a", "kept", 0.7, Target::AtLeast(0.5));
        report.ratio("b", "missed", 1.5, Target::AtMost(1.2));
        assert_eq!(report.missed(), 1);
        assert!(report.table().contains("<= 1.2 MISSED"));
    }
}
