//! The audit find index, whatever the backend: the terms an entry is indexed under, what a
//! find query lets SQL rule out (`Narrowing`), and how a page fills from the candidates SQL
//! returns (`FindPage`).
//!
//! Each backend keeps the terms in its `audit_terms` table and turns a narrowing into its
//! own SQL. Every condition here is one the query implies, so narrowing by it never leaves
//! out an entry the query matches; `FindQuery::matches` still decides each candidate.
//!
//! How the backends must compare terms: numbers by value, texts by their UTF-8 bytes (as
//! SQLite compares text), and never a number with a text or a `Present` with either: a
//! range of numbers holds no text, and so on.

use std::ops::ControlFlow;

use pipelog_core::audit::{AuditEntry, AuditId};
use pipelog_core::find_query::{
    Field, FindQuery, Node, Operator, Scalar, detail_values, fold, numeric,
};
use pipelog_core::paging::{Page, PageLimit};
use serde_json::{Map, Value};

use crate::AuditPageRequest;

/// How many bytes of a folded string its term keeps.
pub(crate) const TERM_BYTES: usize = 256;

/// What an entry is indexed under at one path.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Term {
    /// A string, folded and cut to `TERM_BYTES`.
    Text(String),
    /// A number, or a string that reads as one (which has its text term too).
    Number(f64),
    /// Anything else (a boolean, null, an object or array itself): only that the path is
    /// there.
    Present,
}

/// A string's term: folded, and cut to `TERM_BYTES` at a character boundary.
pub(crate) fn text_term(text: &str) -> String {
    let mut folded = fold(text);
    if folded.len() > TERM_BYTES {
        let mut end = TERM_BYTES;
        while !folded.is_char_boundary(end) {
            end -= 1;
        }
        folded.truncate(end);
    }
    folded
}

/// The index terms of one entry: `(path, term)`, where the path is `id`, or `.` followed
/// by the details path. Duplicates are possible.
pub(crate) fn terms_of(id: &AuditId, details: &Map<String, Value>) -> Vec<(String, Term)> {
    let mut terms = vec![("id".to_owned(), Term::Text(text_term(id.as_str())))];
    if let Some(number) = numeric(id.as_str()) {
        terms.push(("id".to_owned(), Term::Number(number)));
    }
    for (path, value) in detail_values(details) {
        let path = format!(".{path}");
        match value {
            Value::String(text) => {
                terms.push((path.clone(), Term::Text(text_term(text))));
                if let Some(number) = numeric(text) {
                    terms.push((path, Term::Number(number)));
                }
            }
            Value::Number(number) => match number.as_f64() {
                Some(number) => terms.push((path, Term::Number(number))),
                None => terms.push((path, Term::Present)),
            },
            _ => terms.push((path, Term::Present)),
        }
    }
    terms
}

/// Conditions a query implies: on the entry's own columns, and on the terms of one path
/// each.
#[derive(Debug, Default)]
pub(crate) struct Narrowing {
    pub(crate) entries: Vec<EntryCondition>,
    pub(crate) terms: Vec<TermCondition>,
}

/// A condition on an entry's own columns.
#[derive(Debug)]
pub(crate) enum EntryCondition {
    /// `time_generated` compared with an instant, in milliseconds.
    Time(Comparison, i64),
    /// `time_generated` is one of these (none: no entry).
    TimeIn(Vec<i64>),
    /// The folded type or entity type.
    Folded(FoldedColumn, FoldedMatch),
}

/// How a column compares with a value; the same in every SQL.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Comparison {
    Equal,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Comparison {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Comparison::Equal => "=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        }
    }
}

/// The entry columns that hold a type folded for case-insensitive matching.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FoldedColumn {
    EventType,
    EntityType,
}

impl FoldedColumn {
    /// The column, in the alias `e` of the entries table.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            FoldedColumn::EventType => "e.event_type_folded",
            FoldedColumn::EntityType => "e.entity_type_folded",
        }
    }
}

/// What a folded type must be.
#[derive(Debug)]
pub(crate) enum FoldedMatch {
    /// One of these (none: no entry).
    OneOf(Vec<String>),
    /// From `from` on, and below `below` when there is one.
    Range { from: String, below: Option<String> },
}

/// Entries with a term at `path` that meets `term`.
#[derive(Debug)]
pub(crate) struct TermCondition {
    pub(crate) path: String,
    pub(crate) term: TermMatch,
}

/// What a term must be.
#[derive(Debug)]
pub(crate) enum TermMatch {
    /// Anything: the path is there.
    Any,
    /// One of these, never none.
    OneOf(Vec<Term>),
    /// Text terms from `from` on, and below `below` when there is one.
    Texts { from: String, below: Option<String> },
    /// Text terms up to `up_to`, itself included.
    TextsUpTo(String),
    /// Numbers from this one on.
    NumbersFrom(f64),
    /// Numbers up to this one, itself included.
    NumbersUpTo(f64),
}

impl Narrowing {
    /// Derives what SQL can check for each part of the query that must hold.
    pub(crate) fn derive(query: &FindQuery) -> Narrowing {
        let mut narrowing = Narrowing::default();
        for node in query.root().conjuncts() {
            if let Node::Test(test) = node {
                narrowing.add(&test.field, &test.operator, test.case_sensitive);
            }
        }
        narrowing
    }

    fn add(&mut self, field: &Field, operator: &Operator, case_sensitive: bool) {
        match field {
            Field::TimeGenerated => self.add_time(operator),
            Field::Type => self.add_folded(FoldedColumn::EventType, operator),
            Field::EntityType => self.add_folded(FoldedColumn::EntityType, operator),
            Field::Version => {}
            Field::Id => self.add_terms("id".to_owned(), operator, case_sensitive),
            Field::Details(path) => self.add_terms(format!(".{path}"), operator, case_sensitive),
        }
    }

    fn add_time(&mut self, operator: &Operator) {
        let millis = |scalar: &Scalar| match scalar {
            Scalar::Time(at) => Some(at.unix_millis()),
            _ => None,
        };
        let (comparison, value) = match operator {
            Operator::Eq(at) => (Comparison::Equal, at),
            Operator::Greater(at) => (Comparison::Greater, at),
            Operator::GreaterOrEqual(at) => (Comparison::GreaterOrEqual, at),
            Operator::Less(at) => (Comparison::Less, at),
            Operator::LessOrEqual(at) => (Comparison::LessOrEqual, at),
            Operator::In(times) => {
                if let Some(times) = times.iter().map(millis).collect::<Option<Vec<i64>>>() {
                    self.entries.push(EntryCondition::TimeIn(times));
                }
                return;
            }
            _ => return,
        };
        if let Some(value) = millis(value) {
            self.entries.push(EntryCondition::Time(comparison, value));
        }
    }

    /// A type or entity type: folded equality and prefixes, whatever the case setting
    /// (an exact match is also a folded one).
    fn add_folded(&mut self, column: FoldedColumn, operator: &Operator) {
        let condition = match operator {
            Operator::Eq(Scalar::Text(text)) => FoldedMatch::OneOf(vec![fold(text)]),
            Operator::In(scalars) => {
                let texts: Option<Vec<String>> = scalars
                    .iter()
                    .map(|scalar| match scalar {
                        Scalar::Text(text) => Some(fold(text)),
                        _ => None,
                    })
                    .collect();
                match texts {
                    Some(texts) => FoldedMatch::OneOf(texts),
                    None => return,
                }
            }
            Operator::StartsWith(prefix) => {
                let from = fold(prefix);
                let below = prefix_end(&from);
                FoldedMatch::Range { from, below }
            }
            _ => return,
        };
        self.entries.push(EntryCondition::Folded(column, condition));
    }

    fn add_terms(&mut self, path: String, operator: &Operator, case_sensitive: bool) {
        let term = |scalar: &Scalar| match scalar {
            Scalar::Text(text) => Term::Text(text_term(text)),
            Scalar::Number(number) => Term::Number(*number),
            Scalar::Bool(_) | Scalar::Null | Scalar::Time(_) => Term::Present,
        };
        let condition = match operator {
            Operator::Eq(scalar) => TermMatch::OneOf(vec![term(scalar)]),
            Operator::In(scalars) if !scalars.is_empty() => {
                TermMatch::OneOf(scalars.iter().map(term).collect())
            }
            Operator::StartsWith(prefix) => {
                let folded = fold(prefix);
                if folded.len() > TERM_BYTES {
                    // A string that starts with it has exactly its cut as its term.
                    TermMatch::OneOf(vec![Term::Text(text_term(prefix))])
                } else {
                    let below = prefix_end(&folded);
                    TermMatch::Texts {
                        from: folded,
                        below,
                    }
                }
            }
            // Only numbers and numeric strings compare with a number.
            Operator::Greater(Scalar::Number(number))
            | Operator::GreaterOrEqual(Scalar::Number(number)) => TermMatch::NumbersFrom(*number),
            Operator::Less(Scalar::Number(number))
            | Operator::LessOrEqual(Scalar::Number(number)) => TermMatch::NumbersUpTo(*number),
            Operator::Greater(Scalar::Text(text))
            | Operator::GreaterOrEqual(Scalar::Text(text))
                if !case_sensitive && numeric(text).is_none() =>
            {
                // Strings that fold to at least the query; a term is a prefix of its
                // string's folded form, so it is at least the query's term.
                TermMatch::Texts {
                    from: text_term(text),
                    below: None,
                }
            }
            Operator::Less(Scalar::Text(text)) | Operator::LessOrEqual(Scalar::Text(text))
                if !case_sensitive && numeric(text).is_none() =>
            {
                TermMatch::TextsUpTo(fold(text))
            }
            Operator::Search(_)
            | Operator::Greater(_)
            | Operator::GreaterOrEqual(_)
            | Operator::Less(_)
            | Operator::LessOrEqual(_)
            | Operator::Exists(true) => TermMatch::Any,
            Operator::In(_) | Operator::NotEq(_) | Operator::NotIn(_) | Operator::Exists(false) => {
                return;
            }
        };
        self.terms.push(TermCondition {
            path,
            term: condition,
        });
    }
}

/// The least string greater than every string that starts with `prefix`, if any: the
/// prefix with its last character moved one code point up (dropping characters that
/// cannot move). In UTF-8, code point order is byte order.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(next) = char::from_u32(next) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A page of a find, filled from candidates in result order: `FindQuery::matches` decides
/// each one, the matches that the pages before this one hold are passed over, and one match
/// past the page says there is more.
pub(crate) struct FindPage<'q> {
    /// `None` when SQL selected and paged the candidates itself: each one is kept.
    query: Option<&'q FindQuery>,
    size: PageLimit,
    /// Matches to pass over, and how many were.
    skip: u64,
    skipped: u64,
    items: Vec<AuditEntry>,
}

impl<'q> FindPage<'q> {
    /// The page `request` asks for of the entries `query` matches; without a query, the
    /// candidates are the page already (SQL paged them).
    pub(crate) fn new(query: Option<&'q FindQuery>, request: AuditPageRequest) -> Self {
        let size = request.size.get() as usize;
        let skip = match query {
            Some(_) => request.page.saturating_mul(size as u64),
            None => 0,
        };
        FindPage {
            query,
            size: request.size,
            skip,
            skipped: 0,
            items: Vec::with_capacity(size + 1),
        }
    }

    /// How many matches fill the page: those passed over, the page's, and one more.
    pub(crate) fn wanted(&self) -> usize {
        usize::try_from(self.skip)
            .unwrap_or(usize::MAX)
            .saturating_add(self.size.get() as usize + 1)
    }

    /// Takes the next candidate; `Break` once the page (and one more) is full, when no
    /// further candidate is needed.
    pub(crate) fn offer(&mut self, entry: AuditEntry) -> ControlFlow<()> {
        if let Some(query) = self.query {
            if !query.matches(&entry) {
                return ControlFlow::Continue(());
            }
            if self.skipped < self.skip {
                self.skipped += 1;
                return ControlFlow::Continue(());
            }
        }
        self.items.push(entry);
        if self.items.len() > self.size.get() as usize {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    pub(crate) fn finish(self) -> Page<AuditEntry> {
        Page::from_overfetch(self.items, self.size)
    }
}

/// The `LIMIT` and `OFFSET` of a page that SQL selects and pages by itself (a find without
/// a query): one entry past the page, after the entries of the pages before it.
pub(crate) fn sql_page(request: AuditPageRequest) -> (i64, i64) {
    let size = i64::from(request.size.get());
    let skip = i64::try_from(request.page)
        .unwrap_or(i64::MAX)
        .saturating_mul(size);
    (size + 1, skip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terms_cover_every_value() {
        let id = AuditId::parse("42").unwrap();
        let details =
            json!({"a": "ÉTÉ", "n": 7, "s": "4201", "b": true, "o": {"k": null}, "l": ["x"]});
        let details = details.as_object().unwrap();
        let terms = terms_of(&id, details);
        let expected = vec![
            ("id", Term::Text("42".into())),
            ("id", Term::Number(42.0)),
            (".a", Term::Text("été".into())),
            (".b", Term::Present),
            (".l", Term::Present),
            (".l", Term::Text("x".into())),
            (".n", Term::Number(7.0)),
            (".o", Term::Present),
            (".o.k", Term::Present),
            (".s", Term::Text("4201".into())),
            (".s", Term::Number(4201.0)),
        ];
        let found: Vec<(&str, Term)> = terms
            .iter()
            .map(|(path, term)| (path.as_str(), term.clone()))
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        let long = "é".repeat(200);
        let term = text_term(&long);
        assert!(term.len() <= TERM_BYTES && term.len() > TERM_BYTES - 2);
        assert!(long.starts_with(&term));
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10FFFF}"), None);
    }
}
