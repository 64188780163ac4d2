//! The audit find language (seed 001's "Find request", decided in SPEC.md): its parser, and
//! the evaluator that defines what every query means.
//!
//! A query is a tree of JSON nodes: `{type, field, value, caseSensitive}` tests, combined by
//! `{type: "and" | "or" | "not", queries: [...]}`. The store may narrow its search with
//! indexes however it likes, but which entries match is decided here, by [`FindQuery::matches`].
//!
//! The rules:
//! - Fields: `id`, `timeGenerated` (alias `createdAt`), `entityType`, `type`, `version`, and
//!   `details.<key>[.<key>...]`. A details path names every value found by following its
//!   keys through objects; the elements of an array sit at the array's own path, so
//!   `details.tags` `eq "x"` matches `{"tags": ["x", "y"]}`. A test on a path passes when
//!   any value there passes it.
//! - `timeGenerated` takes ISO 8601 date-times and compares instants.
//! - A query number matches a number, or a string that reads as the same number (the seeds
//!   store `"4201"`). A query string matches strings only; `true`, `false` and `null`
//!   match themselves.
//! - `greater`, `greaterOrEqual`, `less`, `lessOrEqual` compare numerically when both sides
//!   are numbers or numeric strings, else as strings when both are strings, and fail
//!   otherwise.
//! - `search` is substring, `startsWith` is prefix; both apply to strings only.
//! - Strings compare ignoring case unless `caseSensitive` is true: both sides are folded
//!   with [`fold`], character by character.
//! - A missing field fails every test except `exists: false`, `notEq` and `notIn`, which
//!   are the negations of `exists: true`, `eq` and `in`.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value};

use crate::audit::AuditEntry;
use crate::time::UtcTime;

pub mod compact;

/// How deep a query may nest (the root is level 1).
pub const MAX_DEPTH: usize = 10;
/// How many nodes (tests and combinators) a query may hold.
pub const MAX_NODES: usize = 200;
/// How many values an `in` or `notIn` list may hold.
pub const MAX_LIST: usize = 100;
/// The longest string a query may compare with, or name a field by, in bytes.
pub const MAX_TEXT: usize = 4096;

/// Every node `type` the language knows: the combinations, then the tests.
pub const OPERATORS: &[&str] = &[
    "and",
    "or",
    "not",
    "eq",
    "notEq",
    "in",
    "notIn",
    "search",
    "startsWith",
    "greater",
    "greaterOrEqual",
    "less",
    "lessOrEqual",
    "exists",
];
const FIELDS: &str = "id, timeGenerated (or createdAt), entityType, type, version, \
     details.<key>[.<key>...]";

/// A parsed, bounded find query.
#[derive(Clone, Debug, PartialEq)]
pub struct FindQuery {
    root: Node,
}

/// A node of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Test(Test),
}

/// One test on one field.
#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    pub field: Field,
    pub operator: Operator,
    pub case_sensitive: bool,
}

/// What a test looks at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    TimeGenerated,
    EntityType,
    Type,
    Version,
    /// A path inside `details`, its keys joined by `.`.
    Details(String),
}

/// What a test asks of the field.
#[derive(Clone, Debug, PartialEq)]
pub enum Operator {
    Eq(Scalar),
    NotEq(Scalar),
    In(Vec<Scalar>),
    NotIn(Vec<Scalar>),
    Search(String),
    StartsWith(String),
    Greater(Scalar),
    GreaterOrEqual(Scalar),
    Less(Scalar),
    LessOrEqual(Scalar),
    Exists(bool),
}

/// A value a query compares with. `Time` only ever goes with `timeGenerated`.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Text(String),
    Number(f64),
    Bool(bool),
    Null,
    Time(UtcTime),
}

/// A query that cannot be run, and where in it the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindError {
    /// Where, as `queries[1].value`; empty for the root.
    pub at: String,
    pub problem: String,
}

impl fmt::Display for FindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "at `{}`: {}", self.at, self.problem)
        }
    }
}

impl std::error::Error for FindError {}

impl FindQuery {
    /// Parses and bounds a query given as JSON.
    pub fn parse(value: &Value) -> Result<FindQuery, FindError> {
        let mut nodes = 0;
        let root = parse_node(value, "", 1, &mut nodes)?;
        Ok(FindQuery { root })
    }

    pub fn root(&self) -> &Node {
        &self.root
    }

    /// Whether `entry` is one the query asks for.
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        self.root.matches(entry)
    }
}

impl Node {
    fn matches(&self, entry: &AuditEntry) -> bool {
        match self {
            Node::And(nodes) => nodes.iter().all(|node| node.matches(entry)),
            Node::Or(nodes) => nodes.iter().any(|node| node.matches(entry)),
            Node::Not(node) => !node.matches(entry),
            Node::Test(test) => test.matches(entry),
        }
    }

    /// The nodes that must all hold for this one to hold: the node itself, or the members
    /// of nested `and`s.
    pub fn conjuncts(&self) -> Vec<&Node> {
        match self {
            Node::And(nodes) => nodes.iter().flat_map(Node::conjuncts).collect(),
            other => vec![other],
        }
    }
}

fn error(at: &str, problem: impl Into<String>) -> FindError {
    FindError {
        at: at.to_owned(),
        problem: problem.into(),
    }
}

fn child(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

fn parse_node(value: &Value, at: &str, depth: usize, nodes: &mut usize) -> Result<Node, FindError> {
    if depth > MAX_DEPTH {
        return Err(error(
            at,
            format!("the query nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(error(
            at,
            format!("the query holds more than {MAX_NODES} nodes"),
        ));
    }
    let Value::Object(object) = value else {
        return Err(error(
            at,
            "expected a query object such as {\"type\": \"eq\", \"field\": \"type\", \"value\": \"job.end\"}",
        ));
    };
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(error(&child(at, "type"), "must be a string")),
        None => {
            return Err(error(
                at,
                format!("missing `type`; allowed: {}", OPERATORS.join(", ")),
            ));
        }
    };
    match kind {
        "and" | "or" | "not" => {
            allow_keys(object, at, &["type", "queries"])?;
            let queries_at = child(at, "queries");
            let queries = match object.get("queries") {
                Some(Value::Array(queries)) if !queries.is_empty() => queries,
                Some(Value::Array(_)) => return Err(error(&queries_at, "must not be empty")),
                Some(_) => return Err(error(&queries_at, "must be an array of queries")),
                None => return Err(error(at, format!("`{kind}` needs `queries`"))),
            };
            if kind == "not" && queries.len() != 1 {
                return Err(error(
                    &queries_at,
                    format!("`not` takes exactly one query, got {}", queries.len()),
                ));
            }
            let mut parsed = Vec::with_capacity(queries.len());
            for (index, query) in queries.iter().enumerate() {
                parsed.push(parse_node(
                    query,
                    &format!("{queries_at}[{index}]"),
                    depth + 1,
                    nodes,
                )?);
            }
            Ok(match kind {
                "and" => Node::And(parsed),
                "or" => Node::Or(parsed),
                _ => Node::Not(Box::new(parsed.remove(0))),
            })
        }
        _ => parse_test(object, kind, at).map(Node::Test),
    }
}

fn allow_keys(object: &Map<String, Value>, at: &str, allowed: &[&str]) -> Result<(), FindError> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(error(
            at,
            format!("unknown key `{key}`; allowed here: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn parse_field(object: &Map<String, Value>, at: &str) -> Result<Field, FindError> {
    let field_at = child(at, "field");
    let name = match object.get("field") {
        Some(Value::String(name)) => name.as_str(),
        Some(_) => return Err(error(&field_at, "must be a string")),
        None => return Err(error(at, format!("missing `field`; allowed: {FIELDS}"))),
    };
    check_text(name, &field_at)?;
    Ok(match name {
        "id" => Field::Id,
        "timeGenerated" | "createdAt" => Field::TimeGenerated,
        "entityType" => Field::EntityType,
        "type" => Field::Type,
        "version" => Field::Version,
        _ => match name.strip_prefix("details.") {
            Some(path) if !path.is_empty() && path.split('.').all(|key| !key.is_empty()) => {
                Field::Details(path.to_owned())
            }
            _ => {
                return Err(error(
                    &field_at,
                    format!("unknown field `{name}`; allowed: {FIELDS}"),
                ));
            }
        },
    })
}

fn parse_test(object: &Map<String, Value>, kind: &str, at: &str) -> Result<Test, FindError> {
    allow_keys(object, at, &["type", "field", "value", "caseSensitive"])?;
    let field = parse_field(object, at)?;
    let case_sensitive = match object.get("caseSensitive") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(error(&child(at, "caseSensitive"), "must be true or false")),
    };
    let value_at = child(at, "value");
    let value = object
        .get("value")
        .ok_or_else(|| error(at, format!("`{kind}` needs a `value`")))?;
    let is_time = field == Field::TimeGenerated;
    let scalar = |value: &Value, at: &str| parse_scalar(value, at, is_time);
    let text = |value: &Value| match value {
        Value::String(text) => check_text(text, &value_at).map(|()| text.clone()),
        _ => Err(error(&value_at, format!("`{kind}` takes a string"))),
    };
    let orderable = |value: &Value| match scalar(value, &value_at)? {
        Scalar::Bool(_) | Scalar::Null => Err(error(
            &value_at,
            format!("`{kind}` takes a number, a string or a date-time"),
        )),
        ordered => Ok(ordered),
    };
    let list = |value: &Value| match value {
        Value::Array(items) if items.len() <= MAX_LIST => items
            .iter()
            .enumerate()
            .map(|(index, item)| scalar(item, &format!("{value_at}[{index}]")))
            .collect::<Result<Vec<_>, _>>(),
        Value::Array(_) => Err(error(
            &value_at,
            format!("holds more than {MAX_LIST} values"),
        )),
        _ => Err(error(
            &value_at,
            format!("`{kind}` takes an array of values"),
        )),
    };
    let operator = match kind {
        "eq" => Operator::Eq(scalar(value, &value_at)?),
        "notEq" => Operator::NotEq(scalar(value, &value_at)?),
        "in" => Operator::In(list(value)?),
        "notIn" => Operator::NotIn(list(value)?),
        "search" | "startsWith" if is_time => {
            return Err(error(
                at,
                format!(
                    "`{kind}` does not apply to timeGenerated; compare it with eq, greater, less and the like"
                ),
            ));
        }
        "search" => Operator::Search(text(value)?),
        "startsWith" => Operator::StartsWith(text(value)?),
        "greater" => Operator::Greater(orderable(value)?),
        "greaterOrEqual" => Operator::GreaterOrEqual(orderable(value)?),
        "less" => Operator::Less(orderable(value)?),
        "lessOrEqual" => Operator::LessOrEqual(orderable(value)?),
        "exists" => match value {
            Value::Bool(flag) => Operator::Exists(*flag),
            _ => return Err(error(&value_at, "`exists` takes true or false")),
        },
        other => {
            return Err(error(
                &child(at, "type"),
                format!(
                    "unknown operator `{other}`; allowed: {}",
                    OPERATORS.join(", ")
                ),
            ));
        }
    };
    Ok(Test {
        field,
        operator,
        case_sensitive,
    })
}

fn check_text(text: &str, at: &str) -> Result<(), FindError> {
    if text.len() > MAX_TEXT {
        return Err(error(at, format!("is longer than {MAX_TEXT} bytes")));
    }
    Ok(())
}

fn parse_scalar(value: &Value, at: &str, is_time: bool) -> Result<Scalar, FindError> {
    if is_time {
        return match value {
            Value::String(text) => UtcTime::parse(text)
                .map(Scalar::Time)
                .map_err(|problem| error(at, problem.to_string())),
            _ => Err(error(
                at,
                "timeGenerated compares with ISO 8601 date-times, such as \"2025-02-21T14:58:15.584Z\"",
            )),
        };
    }
    match value {
        Value::String(text) => check_text(text, at).map(|()| Scalar::Text(text.clone())),
        Value::Number(number) => number
            .as_f64()
            .filter(|number| number.is_finite())
            .map(Scalar::Number)
            .ok_or_else(|| error(at, "the number is out of range")),
        Value::Bool(flag) => Ok(Scalar::Bool(*flag)),
        Value::Null => Ok(Scalar::Null),
        Value::Array(_) | Value::Object(_) => Err(error(
            at,
            "expected a string, a number, true, false or null",
        )),
    }
}

/// Folds a string for comparisons that ignore case: each character lowercased on its own
/// (Unicode's simple per-character mapping, no context), so that folding keeps prefixes
/// and substrings: if `a` starts with or contains `b`, `fold(a)` starts with or contains
/// `fold(b)`.
pub fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// The number a string reads as, if it is one: an optional `-`, digits, optionally a
/// fraction and an exponent (`42`, `-0.5`, `1e3`, `007`). Nothing else: no blanks, no `+`.
pub fn numeric(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut at = usize::from(bytes.first() == Some(&b'-'));
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let whole = digits(at);
    if whole == 0 {
        return None;
    }
    at += whole;
    if bytes.get(at) == Some(&b'.') {
        let fraction = digits(at + 1);
        if fraction == 0 {
            return None;
        }
        at += 1 + fraction;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent = digits(at);
        if exponent == 0 {
            return None;
        }
        at += exponent;
    }
    if at != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().filter(|number| number.is_finite())
}

/// Every value in `details` with its path: object members at `parent.key`, array elements
/// at the array's own path, containers as well as what they hold.
pub fn detail_values(details: &Map<String, Value>) -> Vec<(String, &Value)> {
    fn walk<'a>(value: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
        out.push((path.clone(), value));
        match value {
            Value::Object(fields) => {
                for (key, inner) in fields {
                    walk(inner, format!("{path}.{key}"), out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, path.clone(), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, value) in details {
        walk(value, key.clone(), &mut out);
    }
    out
}

/// The order results are listed in: newest first, then by id, last first.
pub fn newest_first(a: &AuditEntry, b: &AuditEntry) -> Ordering {
    b.time_generated
        .cmp(&a.time_generated)
        .then_with(|| b.id.as_str().cmp(a.id.as_str()))
}

/// A value found at a field, as tests see it.
enum Found<'a> {
    Text(&'a str),
    Number(f64),
    Bool(bool),
    Null,
    /// An object or an array: present, but equal to no query value.
    Container,
}

impl<'a> Found<'a> {
    fn of(value: &'a Value) -> Self {
        match value {
            Value::String(text) => Found::Text(text),
            Value::Number(number) => number.as_f64().map_or(Found::Container, Found::Number),
            Value::Bool(flag) => Found::Bool(*flag),
            Value::Null => Found::Null,
            Value::Array(_) | Value::Object(_) => Found::Container,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Found::Number(number) => Some(*number),
            Found::Text(text) => numeric(text),
            _ => None,
        }
    }
}

/// Text as compared: folded unless the test is case-sensitive.
fn comparable(text: &str, case_sensitive: bool) -> std::borrow::Cow<'_, str> {
    if case_sensitive {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(fold(text))
    }
}

fn equals(found: &Found<'_>, wanted: &Scalar, case_sensitive: bool) -> bool {
    match (found, wanted) {
        (Found::Text(text), Scalar::Text(query)) => {
            comparable(text, case_sensitive) == comparable(query, case_sensitive)
        }
        (_, Scalar::Number(query)) => found.number() == Some(*query),
        (Found::Bool(flag), Scalar::Bool(query)) => flag == query,
        (Found::Null, Scalar::Null) => true,
        _ => false,
    }
}

fn order(found: &Found<'_>, wanted: &Scalar, case_sensitive: bool) -> Option<Ordering> {
    let query_number = match wanted {
        Scalar::Number(number) => Some(*number),
        Scalar::Text(text) => numeric(text),
        _ => None,
    };
    if let (Some(found), Some(query)) = (found.number(), query_number) {
        return found.partial_cmp(&query);
    }
    match (found, wanted) {
        (Found::Text(text), Scalar::Text(query)) => {
            Some(comparable(text, case_sensitive).cmp(&comparable(query, case_sensitive)))
        }
        _ => None,
    }
}

impl Test {
    fn matches(&self, entry: &AuditEntry) -> bool {
        let text_field = |text: &str| -> bool { self.holds(std::iter::once(Found::Text(text))) };
        match &self.field {
            Field::TimeGenerated => self.holds_for_time(entry.time_generated),
            Field::Id => text_field(entry.id.as_str()),
            Field::EntityType => text_field(entry.entity_type.as_str()),
            Field::Type => text_field(entry.event_type.as_str()),
            Field::Version => text_field(entry.version.as_str()),
            Field::Details(path) => self.holds(
                detail_values(entry.details.as_map())
                    .into_iter()
                    .filter(|(at, _)| at == path)
                    .map(|(_, value)| Found::of(value)),
            ),
        }
    }

    /// Whether the test passes for a field holding `found` (nothing, for a missing one).
    fn holds<'a>(&self, found: impl Iterator<Item = Found<'a>>) -> bool {
        let case_sensitive = self.case_sensitive;
        let found: Vec<Found<'a>> = found.collect();
        let any = |test: &dyn Fn(&Found<'a>) -> bool| found.iter().any(test);
        let ordered = |query: &Scalar, accept: fn(Ordering) -> bool| {
            any(&|value| order(value, query, case_sensitive).is_some_and(accept))
        };
        match &self.operator {
            Operator::Eq(query) => any(&|value| equals(value, query, case_sensitive)),
            Operator::NotEq(query) => !any(&|value| equals(value, query, case_sensitive)),
            Operator::In(queries) => any(&|value| {
                queries
                    .iter()
                    .any(|query| equals(value, query, case_sensitive))
            }),
            Operator::NotIn(queries) => !any(&|value| {
                queries
                    .iter()
                    .any(|query| equals(value, query, case_sensitive))
            }),
            Operator::Search(query) => any(&|value| match value {
                Found::Text(text) => comparable(text, case_sensitive)
                    .contains(comparable(query, case_sensitive).as_ref()),
                _ => false,
            }),
            Operator::StartsWith(query) => any(&|value| match value {
                Found::Text(text) => comparable(text, case_sensitive)
                    .starts_with(comparable(query, case_sensitive).as_ref()),
                _ => false,
            }),
            Operator::Greater(query) => ordered(query, Ordering::is_gt),
            Operator::GreaterOrEqual(query) => ordered(query, Ordering::is_ge),
            Operator::Less(query) => ordered(query, Ordering::is_lt),
            Operator::LessOrEqual(query) => ordered(query, Ordering::is_le),
            Operator::Exists(wanted) => found.is_empty() != *wanted,
        }
    }

    fn holds_for_time(&self, time: UtcTime) -> bool {
        let at = |query: &Scalar| match query {
            Scalar::Time(instant) => Some(time.cmp(instant)),
            _ => None,
        };
        let is = |query: &Scalar, accept: fn(Ordering) -> bool| at(query).is_some_and(accept);
        match &self.operator {
            Operator::Eq(query) => is(query, Ordering::is_eq),
            Operator::NotEq(query) => !is(query, Ordering::is_eq),
            Operator::In(queries) => queries.iter().any(|query| is(query, Ordering::is_eq)),
            Operator::NotIn(queries) => !queries.iter().any(|query| is(query, Ordering::is_eq)),
            Operator::Greater(query) => is(query, Ordering::is_gt),
            Operator::GreaterOrEqual(query) => is(query, Ordering::is_ge),
            Operator::Less(query) => is(query, Ordering::is_lt),
            Operator::LessOrEqual(query) => is(query, Ordering::is_le),
            Operator::Exists(wanted) => *wanted,
            Operator::Search(_) | Operator::StartsWith(_) => false,
        }
    }
}

#[cfg(test)]
mod tests;
