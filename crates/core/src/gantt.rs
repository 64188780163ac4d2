//! Gantt charts of one operation: a section per component, a bar per Begin/End pair, a
//! marker per milestone and per validation problem, written as Mermaid `gantt` text (the
//! `GET /v1/operations/{operationId}/gantt` answer) or as standalone SVG (the console's).
//!
//! Messages, scope ids and source names are chosen by whoever writes items, so every one of
//! them is escaped on the way out. In Mermaid text, every character outside
//! `[A-Za-z0-9 _.-]` becomes an entity code `#<decimal code point>;` (Mermaid decodes these
//! in every diagram type), and the first character of a task label is always written that
//! way: Mermaid's gantt lexer tries its keywords (`click`, `call`, `section`, `dateFormat`,
//! `title`, ...) at the start of every task line, so a label must never begin with a
//! letter, a digit or a space. A label can therefore neither end itself (`:`, `#`, `;`),
//! start a line, open a comment (`%%`) or directive, nor change the task's tags. In SVG,
//! every text is XML-escaped and characters XML cannot carry are replaced.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ids::{OperatingItemId, OperationId};
use crate::operating::{ActivityType, ItemTiming, OperatingItem, StatusSeverity};
use crate::operating_stats::{ComponentKey, ComponentKind, SpanBasis, analyze_operation};
use crate::time::UtcTime;

/// Labels and section titles are cut to this many characters before they are escaped.
pub const MAX_LABEL_CHARS: usize = 80;
/// A validation message is cut to this many characters in its label.
pub const MAX_MESSAGE_CHARS: usize = 60;

/// What a task of the chart stands for; also its order among tasks starting together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum GanttTaskKind {
    /// An `Application|Start`, `Ack` or `Finish` item.
    Milestone,
    /// A valid Begin/End pair, labelled by its scope id.
    ScopePair,
    /// The platform's time measured as the gap between publishers and consumers.
    Handover,
    /// A `Validation` item with severity Warning.
    ValidationWarning,
    /// A `Validation` item with severity Error.
    ValidationError,
}

impl GanttTaskKind {
    pub fn is_milestone(self) -> bool {
        matches!(
            self,
            GanttTaskKind::Milestone
                | GanttTaskKind::ValidationWarning
                | GanttTaskKind::ValidationError
        )
    }

    /// The Mermaid tags, each followed by `, `.
    fn mermaid_tags(self) -> &'static str {
        match self {
            GanttTaskKind::ScopePair => "",
            // Greyed out: the platform's time inferred, not logged.
            GanttTaskKind::Handover => "done, ",
            GanttTaskKind::Milestone => "milestone, ",
            GanttTaskKind::ValidationWarning => "active, milestone, ",
            GanttTaskKind::ValidationError => "crit, milestone, ",
        }
    }

    /// Fill colour in SVG.
    fn svg_colour(self) -> &'static str {
        match self {
            GanttTaskKind::Milestone => "#34495e",
            GanttTaskKind::ScopePair => "#4e79a7",
            GanttTaskKind::Handover => "#a9b3bd",
            GanttTaskKind::ValidationWarning => "#ff8c00",
            GanttTaskKind::ValidationError => "#d62728",
        }
    }
}

/// One bar or marker. Milestones have `end == start`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GanttTask {
    /// As written by the item's author (validation messages already cut); escaped only
    /// when rendered.
    pub label: String,
    pub kind: GanttTaskKind,
    pub start: UtcTime,
    pub end: UtcTime,
    /// The item shown (a pair's Begin); none for a handover.
    pub item_id: Option<OperatingItemId>,
}

/// The tasks of one component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GanttSection {
    pub component: ComponentKey,
    /// "Publisher <source name>", "Platform" or "Consumer <source name>", unescaped.
    pub title: String,
    /// Ordered by start, end, kind, then item id.
    pub tasks: Vec<GanttTask>,
}

/// The Gantt chart of one operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GanttChart {
    pub operation: OperationId,
    /// In [`ComponentKey`] order; a component with nothing to draw has no section.
    pub sections: Vec<GanttSection>,
}

impl GanttChart {
    /// The chart of `operation` from its items (any order). `AgentStatus` and `Coordination`
    /// items are left out, as are items with nothing to draw (ProcessingResult, Info
    /// validations, unpaired Begin/End).
    pub fn build(operation: OperationId, items: &[OperatingItem]) -> GanttChart {
        let timings: Vec<ItemTiming> = items.iter().map(OperatingItem::timing).collect();
        let analysis = analyze_operation(&timings);

        let mut members: BTreeMap<ComponentKey, Vec<(&OperatingItem, &ItemTiming)>> =
            BTreeMap::new();
        for (item, timing) in items.iter().zip(&timings) {
            if let Some(key) = ComponentKey::of(timing) {
                members.entry(key).or_default().push((item, timing));
            }
        }
        // In event order, so that "the first item with a source name" does not depend on
        // the order the store returned them in.
        for list in members.values_mut() {
            list.sort_by_key(|(_, timing)| (timing.at, timing.id));
        }

        let mut sections = Vec::new();
        for component in &analysis.components {
            let members = members
                .get(&component.key)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut tasks: Vec<GanttTask> = component
                .pairs
                .iter()
                .map(|pair| GanttTask {
                    label: pair.scope_id.as_str().to_owned(),
                    kind: GanttTaskKind::ScopePair,
                    start: pair.begin,
                    end: pair.end,
                    item_id: Some(pair.begin_item_id),
                })
                .collect();
            let milestones = &component.milestones;
            if milestones.basis == Some(SpanBasis::Handover)
                && let (Some(from), Some(to)) = (milestones.span_from, milestones.span_to)
            {
                tasks.push(GanttTask {
                    label: "handover".to_owned(),
                    kind: GanttTaskKind::Handover,
                    start: from,
                    end: to,
                    item_id: None,
                });
            }
            tasks.extend(members.iter().filter_map(|(item, timing)| {
                let (kind, label) = marker_of(item, timing)?;
                Some(GanttTask {
                    label,
                    kind,
                    start: timing.at,
                    end: timing.at,
                    item_id: Some(timing.id),
                })
            }));
            if tasks.is_empty() {
                continue;
            }
            tasks.sort_by(|a, b| {
                (a.start, a.end, a.kind, a.item_id)
                    .cmp(&(b.start, b.end, b.kind, b.item_id))
                    .then_with(|| a.label.cmp(&b.label))
            });
            sections.push(GanttSection {
                component: component.key,
                title: section_title(component.key, members),
                tasks,
            });
        }
        GanttChart {
            operation,
            sections,
        }
    }

    /// The chart as Mermaid `gantt` text, one task line per task:
    /// `    <label> :<tags>, t<n>, <start ms>, <end ms>` (times as Unix milliseconds).
    pub fn to_mermaid(&self) -> String {
        let mut text = String::new();
        text.push_str("gantt\n");
        // An operation id is a UUID: nothing to escape.
        text.push_str(&format!("    title Operation {}\n", self.operation));
        text.push_str("    dateFormat x\n");
        text.push_str("    axisFormat %H:%M:%S\n");
        let mut task_number = 0_usize;
        for section in &self.sections {
            text.push_str(&format!(
                "    section {}\n",
                mermaid_section_title(&section.title)
            ));
            for task in &section.tasks {
                task_number += 1;
                text.push_str(&format!(
                    "    {} :{}t{task_number}, {}, {}\n",
                    mermaid_task_label(&task.label),
                    task.kind.mermaid_tags(),
                    task.start.unix_millis(),
                    task.end.unix_millis(),
                ));
            }
        }
        text
    }

    /// The chart as a standalone SVG document: 960 wide, a row per task, section titles on
    /// the left, a UTC time axis at the bottom. No scripts, links or foreign objects.
    pub fn to_svg(&self) -> String {
        let title = format!("Operation {}", self.operation);
        let rows: usize = self.sections.iter().map(|s| s.tasks.len()).sum();
        let range = self
            .sections
            .iter()
            .flat_map(|section| &section.tasks)
            .fold(None, |range: Option<(i64, i64)>, task| {
                let (start, end) = (task.start.unix_millis(), task.end.unix_millis());
                Some(range.map_or((start, end), |(first, last)| {
                    (first.min(start), last.max(end))
                }))
            });
        let Some((mut first, mut last)) = range else {
            return empty_svg(&title);
        };
        if last <= first {
            // A single instant: give the axis a second around it.
            first = first.saturating_sub(500);
            last = last.saturating_add(500);
        }
        let span = last.saturating_sub(first) as f64;
        let x_of = |at: UtcTime| {
            let offset = at.unix_millis().saturating_sub(first) as f64;
            SVG_CHART_LEFT + offset / span * (SVG_CHART_RIGHT - SVG_CHART_LEFT)
        };
        let rows_bottom = SVG_TOP + rows as f64 * SVG_ROW;
        let height = rows_bottom + SVG_AXIS_HEIGHT;

        let mut svg = svg_header(height, &title);

        // Section bands behind everything, then the grid, then the tasks.
        let mut row = 0_usize;
        for (index, section) in self.sections.iter().enumerate() {
            let y = SVG_TOP + row as f64 * SVG_ROW;
            let band = section.tasks.len() as f64 * SVG_ROW;
            let fill = if index % 2 == 0 { "#f3f5f7" } else { "#ffffff" };
            svg.push_str(&format!(
                "<rect x=\"0\" y=\"{y:.1}\" width=\"{SVG_WIDTH}\" height=\"{band:.1}\" fill=\"{fill}\"/>\n"
            ));
            let full_title = cut_or_dash(&section.title, MAX_LABEL_CHARS);
            let shown_title = shorten(full_title, SVG_SECTION_TITLE_CHARS);
            svg.push_str(&format!(
                "<g><title>{}</title><text x=\"10\" y=\"{:.1}\" font-weight=\"bold\">{}</text></g>\n",
                xml_text(full_title),
                y + 16.0,
                xml_text(&shown_title),
            ));
            row += section.tasks.len();
        }

        for tick in 0..=TICKS {
            let millis =
                first.saturating_add(last.saturating_sub(first).saturating_mul(tick) / TICKS);
            let x =
                SVG_CHART_LEFT + (SVG_CHART_RIGHT - SVG_CHART_LEFT) * tick as f64 / TICKS as f64;
            svg.push_str(&format!(
                "<line x1=\"{x:.1}\" y1=\"{SVG_TOP:.1}\" x2=\"{x:.1}\" y2=\"{rows_bottom:.1}\" stroke=\"#d0d5db\"/>\n"
            ));
            svg.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555555\">{}</text>\n",
                rows_bottom + 18.0,
                clock_text(millis),
            ));
        }

        let tasks = self.sections.iter().flat_map(|section| &section.tasks);
        for (row, task) in tasks.enumerate() {
            let middle = SVG_TOP + row as f64 * SVG_ROW + SVG_ROW / 2.0;
            let x_start = x_of(task.start);
            let x_end = x_of(task.end).max(x_start);
            let colour = task.kind.svg_colour();
            if task.kind.is_milestone() {
                let r = SVG_DIAMOND;
                svg.push_str(&format!(
                    "<polygon points=\"{x_start:.1},{:.1} {:.1},{middle:.1} {x_start:.1},{:.1} {:.1},{middle:.1}\" fill=\"{colour}\"/>\n",
                    middle - r,
                    x_start + r,
                    middle + r,
                    x_start - r,
                ));
            } else {
                let width = (x_end - x_start).max(1.0);
                svg.push_str(&format!(
                    "<rect x=\"{x_start:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{SVG_BAR_HEIGHT:.1}\" rx=\"2\" fill=\"{colour}\"/>\n",
                    middle - SVG_BAR_HEIGHT / 2.0,
                ));
            }
            // Labels go right of the task, or left of it when it ends in the right half.
            let (label_x, anchor) = if x_end > (SVG_CHART_LEFT + SVG_CHART_RIGHT) / 2.0 {
                (x_start - SVG_DIAMOND - 4.0, "end")
            } else {
                (x_end + SVG_DIAMOND + 4.0, "start")
            };
            let label_colour = match task.kind {
                GanttTaskKind::ValidationError | GanttTaskKind::ValidationWarning => colour,
                _ => "#222222",
            };
            svg.push_str(&format!(
                "<text x=\"{label_x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"{label_colour}\">{}</text>\n",
                middle + 4.0,
                xml_text(cut_or_dash(&task.label, MAX_LABEL_CHARS)),
            ));
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// The Start/Ack/Finish milestone or validation marker an item is drawn as, if any.
fn marker_of(item: &OperatingItem, timing: &ItemTiming) -> Option<(GanttTaskKind, String)> {
    let marker = match timing.activity_type? {
        ActivityType::Start => (GanttTaskKind::Milestone, "Start".to_owned()),
        ActivityType::Ack => (GanttTaskKind::Milestone, "Ack".to_owned()),
        ActivityType::Finish => (GanttTaskKind::Milestone, "Finish".to_owned()),
        ActivityType::Validation => {
            let (kind, word) = match timing.severity {
                StatusSeverity::Error => (GanttTaskKind::ValidationError, "error"),
                StatusSeverity::Warning => (GanttTaskKind::ValidationWarning, "warning"),
                StatusSeverity::Info => return None,
            };
            let message = item
                .item
                .message
                .as_ref()
                .map(|message| cut_chars(message.as_str(), MAX_MESSAGE_CHARS))
                .unwrap_or_default();
            let label = if message.is_empty() {
                format!("Validation {word}")
            } else {
                format!("Validation {word}: {message}")
            };
            (kind, label)
        }
        ActivityType::Begin
        | ActivityType::End
        | ActivityType::ProcessingResult
        | ActivityType::ActionRequest
        | ActivityType::ActionResponse => return None,
    };
    Some(marker)
}

/// "Publisher <source name>", "Platform" or "Consumer <source name>": the source name of the
/// component's first item that has one, else its source id, else "unknown source".
fn section_title(key: ComponentKey, members: &[(&OperatingItem, &ItemTiming)]) -> String {
    let source_name = || {
        members
            .iter()
            .find_map(|(item, _)| {
                item.item
                    .source
                    .as_ref()
                    .map(|source| source.as_str())
                    .filter(|source| !source.trim().is_empty())
                    .map(str::to_owned)
            })
            .or_else(|| key.source_id.map(|source_id| source_id.to_string()))
            .unwrap_or_else(|| "unknown source".to_owned())
    };
    match key.kind {
        ComponentKind::Publisher => format!("Publisher {}", source_name()),
        ComponentKind::Platform => "Platform".to_owned(),
        ComponentKind::Consumer => format!("Consumer {}", source_name()),
    }
}

/// The first `max_chars` characters of `text`.
fn cut_chars(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A label cut to `max_chars`, or "-" if that leaves nothing.
fn cut_or_dash(text: &str, max_chars: usize) -> &str {
    let cut = cut_chars(text, max_chars);
    if cut.is_empty() { "-" } else { cut }
}

/// The characters Mermaid text may carry as they are.
fn is_plain_mermaid_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, ' ' | '-' | '_' | '.')
}

fn push_mermaid_entity(text: &mut String, character: char) {
    text.push_str(&format!("#{};", u32::from(character)));
}

/// A task label as Mermaid text: cut, never empty, escaped, its first character always as
/// an entity code (see the module documentation for why).
fn mermaid_task_label(label: &str) -> String {
    let mut text = String::new();
    for (index, character) in cut_or_dash(label, MAX_LABEL_CHARS).chars().enumerate() {
        if index > 0 && is_plain_mermaid_character(character) {
            text.push(character);
        } else {
            push_mermaid_entity(&mut text, character);
        }
    }
    text
}

/// A section title as Mermaid text: cut, never empty, escaped. Its first character may stay
/// plain: after `section ` the lexer reads the rest of the line as the title.
fn mermaid_section_title(title: &str) -> String {
    let mut text = String::new();
    for character in cut_or_dash(title, MAX_LABEL_CHARS).chars() {
        if is_plain_mermaid_character(character) {
            text.push(character);
        } else {
            push_mermaid_entity(&mut text, character);
        }
    }
    text
}

const SVG_WIDTH: f64 = 960.0;
/// Time axis ticks after the first (so five labels).
const TICKS: i64 = 4;
const SVG_CHART_LEFT: f64 = 250.0;
/// Leaves room for the last tick's label and for labels of tasks at the right edge.
const SVG_CHART_RIGHT: f64 = 900.0;
const SVG_TOP: f64 = 48.0;
const SVG_ROW: f64 = 24.0;
const SVG_BAR_HEIGHT: f64 = 14.0;
const SVG_DIAMOND: f64 = 7.0;
const SVG_AXIS_HEIGHT: f64 = 32.0;
/// What fits in the left column at 12px; longer titles are shortened there (the whole title
/// is in the tooltip).
const SVG_SECTION_TITLE_CHARS: usize = 34;

fn svg_header(height: f64, title: &str) -> String {
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{SVG_WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {SVG_WIDTH} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    );
    svg.push_str(&format!("<title>{}</title>\n", xml_text(title)));
    svg.push_str(&format!(
        "<rect x=\"0\" y=\"0\" width=\"{SVG_WIDTH}\" height=\"{height:.0}\" fill=\"#ffffff\"/>\n"
    ));
    svg.push_str(&format!(
        "<text x=\"10\" y=\"26\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        xml_text(title)
    ));
    svg
}

/// An operation with nothing to draw: the title and a note.
fn empty_svg(title: &str) -> String {
    let mut svg = svg_header(100.0, title);
    svg.push_str(
        "<text x=\"10\" y=\"64\" fill=\"#555555\">No timed items in this operation: nothing to draw.</text>\n",
    );
    svg.push_str("</svg>\n");
    svg
}

/// `text` cut to `max_chars`, with an ellipsis when something was cut.
fn shorten(text: &str, max_chars: usize) -> String {
    let cut = cut_chars(text, max_chars);
    if cut.len() == text.len() {
        text.to_owned()
    } else {
        format!("{}…", cut_chars(text, max_chars.saturating_sub(1)))
    }
}

/// Text escaped for SVG content and attribute values. Control characters and line breaks
/// (SVG text is one line) become spaces, and the two non-characters XML forbids
/// become U+FFFD, so the document stays well-formed whatever a message holds.
fn xml_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\u{FFFE}' | '\u{FFFF}' => escaped.push('\u{FFFD}'),
            // U+2028 and U+2029 are line breaks too (renderers break the line on them).
            other if other.is_control() || matches!(other, '\u{2028}' | '\u{2029}') => {
                escaped.push(' ')
            }
            other => escaped.push(other),
        }
    }
    escaped
}

/// `HH:MM:SS.mmm` of a Unix millisecond, in UTC.
fn clock_text(unix_millis: i64) -> String {
    let of_day = unix_millis.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1_000 % 60,
        of_day % 1_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Label;
    use crate::operating::{ItemMessage, OperationType};
    use crate::operating_stats::worked_example::{self, Party, Row, items, items_of, operation_id};

    #[test]
    fn the_worked_example_as_mermaid() {
        let chart = GanttChart::build(operation_id(), &items());
        let expected = "\
gantt
    title Operation f670127a-ef1b-4926-ab64-387fba251523
    dateFormat x
    axisFormat %H:%M:%S
    section Publisher Erp
    #83;tart :milestone, t1, 1775556000000, 1775556000000
    #114;ead :t2, 1775556000100, 1775556000400
    #115;end :t3, 1775556000450, 1775556000700
    #70;inish :milestone, t4, 1775556000800, 1775556000800
    section Platform
    #104;andover :done, t5, 1775556000800, 1775556001000
    section Consumer Shop
    #65;ck :milestone, t6, 1775556001000, 1775556001000
    #105;mport :t7, 1775556001100, 1775556001600
    #70;inish :milestone, t8, 1775556001700, 1775556001700
    section Consumer Crm
    #83;tart :milestone, t9, 1775556001200, 1775556001200
    #86;alidation error#58; Record 456 rejected#58; field #39;Email#39; is invalid. :crit, milestone, t10, 1775556001300, 1775556001300
    #70;inish :milestone, t11, 1775556001500, 1775556001500
";
        assert_eq!(chart.to_mermaid(), expected);
        let mut reversed = items();
        reversed.reverse();
        assert_eq!(GanttChart::build(operation_id(), &reversed), chart);
    }

    #[test]
    fn labels_are_escaped_and_cut() {
        fn check(label: &str, expected: &str) {
            assert_eq!(mermaid_task_label(label), expected, "label {label:?}");
        }
        check("Start", "#83;tart");
        check("step-1_a.b c", "#115;tep-1_a.b c");
        check("", "#45;");
        check(" click t1", "#32;click t1");
        check("a:b", "#97;#58;b");
        check("#35;", "#35;35#59;");
        check("%%{init}%%", "#37;#37;#123;init#125;#37;#37;");
        check("a\nb\r\u{2028}", "#97;#10;b#13;#8232;");
        check("é✓😀", "#233;#10003;#128512;");
        check(&"x".repeat(100), &format!("#120;{}", "x".repeat(79)));
        check(&"é".repeat(81), &"#233;".repeat(80));

        assert_eq!(mermaid_section_title("Consumer a:b"), "Consumer a#58;b");
        assert_eq!(mermaid_section_title(""), "-");
    }

    /// Whether `text` is made only of plain characters and `#<digits>;` entity codes.
    fn is_escaped_text(text: &str) -> bool {
        let mut rest = text;
        while let Some(character) = rest.chars().next() {
            if character == '#' {
                let after = &rest[1..];
                let digits = after.chars().take_while(char::is_ascii_digit).count();
                if digits == 0 || !after[digits..].starts_with(';') {
                    return false;
                }
                rest = &after[digits + 1..];
            } else if is_plain_mermaid_character(character) {
                rest = &rest[character.len_utf8()..];
            } else {
                return false;
            }
        }
        true
    }

    fn is_task_data(data: &str) -> bool {
        let fields: Vec<&str> = data.split(", ").collect();
        let Some((times_and_id, tags)) = fields.split_last_chunk::<3>().map(|(t, l)| (l, t)) else {
            return false;
        };
        let allowed_tags: [&[&str]; 5] = [
            &[],
            &["done"],
            &["milestone"],
            &["active", "milestone"],
            &["crit", "milestone"],
        ];
        let is_number = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
        allowed_tags.contains(&tags)
            && times_and_id[0].strip_prefix('t').is_some_and(is_number)
            && is_number(times_and_id[1])
            && is_number(times_and_id[2])
    }

    /// The kinds of line `to_mermaid` writes, and nothing else.
    fn is_allowed_line(line: &str) -> bool {
        if matches!(
            line,
            "gantt" | "    dateFormat x" | "    axisFormat %H:%M:%S"
        ) {
            return true;
        }
        if let Some(id) = line.strip_prefix("    title Operation ") {
            return OperationId::parse(id).is_ok();
        }
        if let Some(title) = line.strip_prefix("    section ") {
            let known_prefix = title == "Platform"
                || title.starts_with("Publisher ")
                || title.starts_with("Consumer ");
            return known_prefix && is_escaped_text(title);
        }
        let Some(task) = line.strip_prefix("    ") else {
            return false;
        };
        let Some((label, data)) = task.split_once(" :") else {
            return false;
        };
        label.starts_with('#') && is_escaped_text(label) && is_task_data(data)
    }

    const HOSTILE: &[&str] = &[
        "x\n    section evil",
        "%%{init: {'theme':'dark'}}%%",
        ": crit, done, x, 0, 1",
        "click t1 call alert(1)",
        "<script>alert(1)</script>",
        "#35;",
        "a\r\nb\u{2028}c\u{0}d\u{FFFF}",
        "ünïcødé ✓ 😀",
        "",
    ];

    /// An operation whose every label is hostile: a publisher named like a directive with a
    /// scope named like a click callback, and a consumer with one validation per message.
    fn hostile_items() -> Vec<OperatingItem> {
        use ActivityType::{Begin, End, Finish, Start, Validation};
        use OperationType::{ConsumeData, InputData};
        use StatusSeverity::{Error, Info, Warning};
        let mut rows: Vec<Row> = vec![
            (0, InputData, Some(Start), Info, Party::Erp, None, None),
            (
                10,
                InputData,
                Some(Begin),
                Info,
                Party::Erp,
                Some("click t1 call alert(1)"),
                None,
            ),
            (
                20,
                InputData,
                Some(End),
                Info,
                Party::Erp,
                Some("click t1 call alert(1)"),
                None,
            ),
            (
                30,
                InputData,
                Some(Begin),
                Info,
                Party::Erp,
                Some("section evil"),
                None,
            ),
            (
                40,
                InputData,
                Some(End),
                Info,
                Party::Erp,
                Some("section evil"),
                None,
            ),
            (50, InputData, Some(Finish), Info, Party::Erp, None, None),
        ];
        for index in 0..HOSTILE.len() {
            let severity = if index % 2 == 0 { Error } else { Warning };
            let at = 100 + index as i64;
            rows.push((
                at,
                ConsumeData,
                Some(Validation),
                severity,
                Party::Shop,
                None,
                None,
            ));
        }
        let mut items = items_of(&rows);
        for item in &mut items {
            let hostile_source = match item.item.operation_type {
                InputData => "%%{init: {'theme':'dark'}}%%",
                _ => "<script>x</script> & \"q\" : crit",
            };
            item.item.source = Some(Label::parse(hostile_source).unwrap());
        }
        let validations = items
            .iter_mut()
            .filter(|item| item.item.activity_type == Some(Validation));
        for (item, message) in validations.zip(HOSTILE) {
            item.item.message = Some(ItemMessage::parse((*message).to_owned()).unwrap());
        }
        items
    }

    #[test]
    fn hostile_labels_cannot_change_the_diagram() {
        let chart = GanttChart::build(operation_id(), &hostile_items());
        let mermaid = chart.to_mermaid();
        for line in mermaid.lines() {
            assert!(
                is_allowed_line(line),
                "unexpected line {line:?} in\n{mermaid}"
            );
        }
        // The structure is exactly: header, two sections, their tasks.
        let sections = mermaid
            .lines()
            .filter(|l| l.starts_with("    section "))
            .count();
        assert_eq!(sections, 2);
        let tasks = mermaid.lines().count() - 4 - sections;
        // Start, two pairs, Finish; one marker per validation message.
        assert_eq!(tasks, 4 + HOSTILE.len());
        assert!(mermaid.ends_with('\n'));
        for raw in [
            "%%",
            // Mid-label a keyword is just text; at the start of a line the label's first
            // character is always an entity code (checked by `is_allowed_line`).
            "call alert(",
            "<script",
            "(",
            ":crit, done",
            "\r",
            "\u{2028}",
            "\u{0}",
        ] {
            assert!(
                !mermaid.contains(raw),
                "{raw:?} appears unescaped in\n{mermaid}"
            );
        }
        // The hostile texts are there, in escaped form.
        for escaped in [
            "#99;lick t1 call alert#40;1#41;",
            "#115;ection evil",
            "section Publisher #37;#37;#123;init#58; #123;#39;theme#39;#58;#39;dark#39;#125;#125;#37;#37;",
            "section Consumer #60;script#62;x#60;#47;script#62; #38; #34;q#34; #58; crit",
            "#86;alidation error#58; x#10;    section evil :crit, milestone",
            "#86;alidation warning#58; #37;#37;#123;init",
            "#86;alidation error#58; #58; crit#44; done#44; x#44; 0#44; 1 :crit",
            "#86;alidation warning#58; #35;35#59; :active",
            "#86;alidation error#58; a#13;#10;b#8232;c#0;d#65535; :crit",
            "#252;n#239;c#248;d#233; #10003; #128512;",
            "#86;alidation error :crit, milestone",
        ] {
            assert!(
                mermaid.contains(escaped),
                "{escaped:?} missing from\n{mermaid}"
            );
        }
    }

    #[test]
    fn the_svg_escapes_everything_and_runs_nothing() {
        let chart = GanttChart::build(operation_id(), &hostile_items());
        let svg = chart.to_svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\""));
        assert!(svg.ends_with("</svg>\n"));
        for forbidden in [
            "<script",
            "foreignObject",
            "href",
            "onclick",
            "\u{0}",
            "\r",
            "\u{FFFF}",
            "\u{2028}",
        ] {
            assert!(!svg.contains(forbidden), "{forbidden:?} in\n{svg}");
        }
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains("Consumer &lt;script&gt;x&lt;/script&gt; &amp; &quot;q&quot;"));
        assert!(svg.contains("&apos;theme&apos;"));
        // Every tag opened is one the chart draws.
        for tag in svg.split('<').skip(1) {
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
                .collect();
            assert!(
                [
                    "svg", "/svg", "title", "/title", "rect", "text", "/text", "g", "/g", "line",
                    "polygon"
                ]
                .contains(&name.as_str()),
                "unexpected tag {name:?}"
            );
        }
        // Validation errors in red, warnings in orange.
        assert!(svg.contains("fill=\"#d62728\""));
        assert!(svg.contains("fill=\"#ff8c00\""));
    }

    #[test]
    fn the_worked_example_as_svg() {
        let svg = GanttChart::build(operation_id(), &items()).to_svg();
        // 11 tasks in rows of 24 below a 48 high title, 32 for the axis.
        assert!(svg.contains("height=\"344\""));
        assert_eq!(svg.matches("<polygon").count(), 7);
        // Three pairs and the handover; plus the background and four section bands.
        assert_eq!(svg.matches("<rect").count(), 4 + 1 + 4);
        assert!(svg.contains(">Publisher Erp</text>"));
        assert!(svg.contains(">10:00:00.000</text>"));
        assert!(svg.contains(">10:00:01.700</text>"));
        assert!(svg.contains(">10:00:00.850</text>"));
    }

    #[test]
    fn operations_with_nothing_to_draw() {
        let empty = GanttChart::build(operation_id(), &[]);
        assert!(empty.sections.is_empty());
        assert_eq!(
            empty.to_mermaid(),
            "gantt\n    title Operation f670127a-ef1b-4926-ab64-387fba251523\n    dateFormat x\n    axisFormat %H:%M:%S\n"
        );
        let svg = empty.to_svg();
        assert!(svg.contains("No timed items in this operation"));
        assert!(svg.ends_with("</svg>\n"));

        // A single milestone: an axis of a second around it, no division by zero.
        let single: Vec<Row> = vec![(
            0,
            OperationType::ConsumeData,
            Some(ActivityType::Ack),
            StatusSeverity::Info,
            Party::Shop,
            None,
            None,
        )];
        let svg = GanttChart::build(operation_id(), &items_of(&single)).to_svg();
        assert!(svg.contains(">09:59:59.500</text>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn section_titles_fall_back_to_the_source_id() {
        let mut items = worked_example::items();
        for item in &mut items {
            item.item.source = None;
            if item.item.operation_type == OperationType::InputData {
                item.item.source_id = None;
            }
        }
        let chart = GanttChart::build(operation_id(), &items);
        let titles: Vec<&str> = chart.sections.iter().map(|s| s.title.as_str()).collect();
        let shop = format!("Consumer {}", Party::Shop.source_id());
        assert_eq!(titles[..3], ["Publisher unknown source", "Platform", &shop]);
    }
}
