//! Compact find expressions, the one-line form `pipelog audit find` takes beside the JSON:
//! `type = job.end and details.jobInstanceStatus in (FAILED, TIMED_OUT)`, compiled to the
//! find language's JSON (see [`super`]), which alone says what a query means.
//!
//! # Grammar
//!
//! ```text
//! expression = or ;
//! or         = and { "or" and } ;
//! and        = unary { "and" unary } ;
//! unary      = "not" unary | "(" or ")" | test ;
//! test       = field ( "exists" | "not" "exists" | [ "cs" ] comparison ) ;
//! comparison = ( "=" | "!=" | ">" | ">=" | "<" | "<=" ) value
//!            | ( "~" | "contains" | "^=" | "startswith" ) value
//!            | [ "not" ] "in" "(" value { "," value } ")" ;
//! field      = word | string ;
//! value      = word | string ;
//! string     = '"' { any character but '"' and '\' | escape } '"' ;
//! escape     = '\' ( '"' | '\' | 'n' | 'r' | 't' | 'u{' 1 to 6 hex digits '}' ) ;
//! word       = word character { word character } ;
//! ```
//!
//! - **Words.** A word runs until whitespace or one of `( ) , " = ! < > ~ ^`, so
//!   `type=job.end` needs no blanks, and `job.end`, `FAILED`, `2026-11-01T10:00:00+02:00`
//!   and `a/b:c@d` are single words. `' & | * [ ] { } ; \` and the backquote stand nowhere
//!   outside strings (quote a value that holds one), nor do control characters; so an
//!   expression never starts with `{`, and text that does is the JSON form.
//! - **Keywords** (`and`, `or`, `not`, `in`, `exists`, `contains`, `startswith`, `cs`,
//!   `true`, `false`, `null`) ignore case. `and`, `or` and `not` are never values: quote
//!   them (`details.word = "and"`).
//! - **Precedence.** `not` binds tightest, then `and`, then `or`; parentheses group. A
//!   run of `and`s (or of `or`s) becomes one node with every operand, in order; parentheses
//!   make no node of their own.
//! - **Fields.** `id`, `type`, `entityType`, `version`, `timeGenerated` (or `createdAt`) and
//!   `details.<key>[.<key>...]`, their names and the `details.` prefix ignoring case (the
//!   keys after it do not). A field is written as the find language names it; quote one
//!   whose keys hold blanks or reserved characters (`"details.updated by" exists`).
//! - **Operators.** `=` eq, `!=` notEq, `in (...)` in, `not in (...)` notIn, `~` or
//!   `contains` search, `^=` or `startswith` startsWith, `>` greater, `>=` greaterOrEqual,
//!   `<` less, `<=` lessOrEqual, `exists` and `not exists` exists true and false.
//! - **Case.** Strings compare ignoring case, as in the find language; `cs` before the
//!   operator makes a test case-sensitive (`type cs = Job.End`, `details.s cs not in (A)`).
//!   `==` is refused rather than guessed at.
//! - **Values.** The operator decides how a bare word reads. After `=`, `!=`, `in`,
//!   `not in`: `true`, `false` and `null` are those JSON values, a word that reads as a
//!   number (by [`super::numeric`]: `42`, `-0.5`, `1e3`, `007`) is that number (an integer
//!   when it is one), and any other word is a string. After `>`, `>=`, `<`, `<=`: numbers
//!   and strings likewise, but `true`, `false` and `null` are refused. After `~` and `^=`
//!   every word is a string. A quoted value is always a string.
//! - **Time.** Every value compared with `timeGenerated` is a date-time, quoted or not:
//!   ISO 8601 with an offset (`2026-11-01T10:30:00+01:00`), without one, or a bare date
//!   (`2026-11-01`), the last two taken as UTC ([`UtcTime::parse_assuming_utc`]). It is
//!   compiled to the instant's canonical form, `2026-11-01T00:00:00.000Z`. `~` and `^=` do
//!   not apply to it.
//!
//! # Limits and errors
//!
//! An expression holds at most [`MAX_EXPRESSION`] bytes, and its parentheses and `not`s
//! nest at most [`MAX_NESTING`] deep; both are checked before anything recurses. Every
//! other limit (depth, nodes, list size, text length) is the find language's, enforced by
//! [`FindQuery::parse`] on the compiled JSON: [`parse`] maps its refusal back to the place
//! in the expression. Errors name a column (characters from 1) and what was expected:
//! ``at column 10: expected a value after `in (`, found end of input``.

use serde_json::{Map, Value};

use super::{FIELDS, FindQuery, MAX_DEPTH, MAX_LIST, numeric};
use crate::time::UtcTime;

/// The longest expression compiled, in bytes. Larger queries can be sent as JSON.
pub const MAX_EXPRESSION: usize = 65_536;
/// How deep parentheses and `not` may nest: the find language's own depth.
pub const MAX_NESTING: usize = MAX_DEPTH;

/// Compiles an expression to the find language's JSON. Its shape, fields, values and
/// date-times are checked here; its size is [`FindQuery::parse`]'s to check (see [`parse`]).
pub fn compile(expression: &str) -> Result<Value, CompactError> {
    Ok(Parser::new(expression)?.expression()?.to_dsl())
}

/// Compiles an expression and parses the JSON with [`FindQuery::parse`], placing a refusal
/// (a query over one of the language's bounds) at the part of the expression it concerns.
pub fn parse(expression: &str) -> Result<FindQuery, CompactError> {
    let tree = Parser::new(expression)?.expression()?;
    FindQuery::parse(&tree.to_dsl()).map_err(|refusal| {
        let (offset, subject) = tree.locate(&refusal.at);
        CompactError::new(
            expression,
            offset,
            Problem::Bound(format!("{subject}{}", refusal.problem)),
        )
    })
}

/// An expression that does not compile, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {column}: {problem}")]
pub struct CompactError {
    /// The byte offset in the expression (its length for the end of input).
    pub offset: usize,
    /// The same place in characters, from 1.
    pub column: usize,
    pub problem: Problem,
}

impl CompactError {
    fn new(expression: &str, offset: usize, problem: Problem) -> Self {
        CompactError {
            offset,
            column: expression[..offset].chars().count() + 1,
            problem,
        }
    }
}

/// What is wrong at the error's place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("the expression is longer than {} bytes", MAX_EXPRESSION)]
    TooLong,
    #[error("parentheses and `not` nest deeper than {} levels", MAX_NESTING)]
    TooDeep,
    #[error("expected {expected}, found {found}")]
    Expected { expected: String, found: String },
    #[error("unexpected `{found}`: {hint}")]
    Unexpected { found: String, hint: &'static str },
    #[error("this string is not closed: expected `\"` before the end of input")]
    UnclosedString,
    #[error("unknown escape `{0}`; allowed: \\\" \\\\ \\n \\r \\t \\u{{hex}}")]
    UnknownEscape(String),
    #[error("unknown field `{0}`; allowed: {fields}", fields = FIELDS)]
    UnknownField(String),
    #[error("the number `{0}` is out of range")]
    NumberOutOfRange(String),
    #[error(
        "expected a date such as 2026-11-01 or an ISO 8601 date-time such as 2026-11-01T10:30:00Z, found `{0}`"
    )]
    NotATime(String),
    #[error("`{0}` does not apply to timeGenerated; compare it with =, !=, in, >, >=, < or <=")]
    NotForTime(String),
    /// One of the find language's bounds, from [`FindQuery::parse`].
    #[error("{0}")]
    Bound(String),
}

/// An expression read into its tree: what the JSON is built from, with the places of its
/// parts to report the find language's refusals at.
#[derive(Debug)]
enum Expr {
    /// `at` is the first `and` (or `or`) joining the parts.
    And {
        at: usize,
        parts: Vec<Expr>,
    },
    Or {
        at: usize,
        parts: Vec<Expr>,
    },
    Not {
        at: usize,
        inner: Box<Expr>,
    },
    Test(TestExpr),
}

#[derive(Debug)]
struct TestExpr {
    field: String,
    field_at: usize,
    /// The find language's `type`: `eq`, `notIn`, ...
    kind: &'static str,
    case_sensitive: bool,
    value: Value,
    /// Where the value is: the value itself, or a list's `(`.
    value_at: usize,
    /// Where a list's values are.
    items_at: Vec<usize>,
}

impl Expr {
    fn to_dsl(&self) -> Value {
        let combination = |kind: &str, parts: &mut dyn Iterator<Item = &Expr>| {
            let mut node = Map::new();
            node.insert("type".into(), kind.into());
            node.insert(
                "queries".into(),
                Value::Array(parts.map(Expr::to_dsl).collect()),
            );
            Value::Object(node)
        };
        match self {
            Expr::And { parts, .. } => combination("and", &mut parts.iter()),
            Expr::Or { parts, .. } => combination("or", &mut parts.iter()),
            Expr::Not { inner, .. } => combination("not", &mut std::iter::once(&**inner)),
            Expr::Test(test) => {
                let mut node = Map::new();
                node.insert("type".into(), test.kind.into());
                node.insert("field".into(), test.field.clone().into());
                node.insert("value".into(), test.value.clone());
                if test.case_sensitive {
                    node.insert("caseSensitive".into(), true.into());
                }
                Value::Object(node)
            }
        }
    }

    fn start(&self) -> usize {
        match self {
            Expr::And { at, .. } | Expr::Or { at, .. } | Expr::Not { at, .. } => *at,
            Expr::Test(test) => test.field_at,
        }
    }

    /// The place of the node a [`super::FindError`]'s `at` names (`queries[1].value[2]`),
    /// and a subject for its problem (`the value `); the expression's start if the path
    /// names nothing here.
    fn locate(&self, path: &str) -> (usize, &'static str) {
        let mut node = self;
        let mut rest = path;
        while let Some(after) = rest.strip_prefix("queries[") {
            let Some((index, tail)) = after.split_once(']') else {
                break;
            };
            let child = match (node, index.parse::<usize>()) {
                (Expr::And { parts, .. } | Expr::Or { parts, .. }, Ok(index)) => parts.get(index),
                (Expr::Not { inner, .. }, Ok(0)) => Some(&**inner),
                _ => None,
            };
            let Some(child) = child else { break };
            node = child;
            rest = tail.strip_prefix('.').unwrap_or(tail);
        }
        let Expr::Test(test) = node else {
            return (node.start(), "");
        };
        if rest == "field" {
            return (test.field_at, "the field ");
        }
        if rest == "value" && !test.items_at.is_empty() {
            // A list is refused for its length: point at the first value too many.
            let at = test.items_at.get(MAX_LIST).copied();
            return (at.unwrap_or(test.value_at), "the list ");
        }
        if rest == "value" {
            return (test.value_at, "the value ");
        }
        let item = rest
            .strip_prefix("value[")
            .and_then(|index| index.strip_suffix(']'))
            .and_then(|index| index.parse::<usize>().ok())
            .and_then(|index| test.items_at.get(index));
        match item {
            Some(at) => (*at, "the value "),
            None => (test.field_at, ""),
        }
    }
}

/// What a token is; its text is the source it was read from.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Word,
    /// A quoted string, its escapes undone.
    Text(String),
    Open,
    Close,
    Comma,
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    Tilde,
    Caret,
    End,
}

#[derive(Clone, Debug)]
struct Token<'a> {
    kind: Kind,
    source: &'a str,
    offset: usize,
}

impl Token<'_> {
    /// Whether this is the keyword `keyword`, in any case.
    fn is(&self, keyword: &str) -> bool {
        self.kind == Kind::Word && self.source.eq_ignore_ascii_case(keyword)
    }

    /// The token as an error's "found" names it.
    fn describe(&self) -> String {
        match self.kind {
            Kind::End => "end of input".to_owned(),
            _ => format!("`{}`", shorten(self.source)),
        }
    }
}

/// A quotation from the expression, cut to keep messages on one line.
fn shorten(text: &str) -> String {
    const LONGEST: usize = 40;
    match text.char_indices().nth(LONGEST) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Characters a word stops at: they are tokens of their own or start a string.
const DELIMITERS: &[char] = &['(', ')', ',', '"', '=', '!', '<', '>', '~', '^'];
/// Characters that stand nowhere outside a string.
const RESERVED: &[char] = &['\'', '&', '|', '*', '[', ']', '{', '}', ';', '\\', '`'];

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !DELIMITERS.contains(&c) && !RESERVED.contains(&c)
}

/// Reads tokens one at a time, so that the first problem in reading order is the one
/// reported.
#[derive(Debug)]
struct Lexer<'a> {
    source: &'a str,
    at: usize,
}

impl<'a> Lexer<'a> {
    fn error(&self, offset: usize, problem: Problem) -> CompactError {
        CompactError::new(self.source, offset, problem)
    }

    fn next_token(&mut self) -> Result<Token<'a>, CompactError> {
        let rest = &self.source[self.at..];
        let start = self.at + (rest.len() - rest.trim_start().len());
        let rest = &self.source[start..];
        let mut chars = rest.chars();
        let Some(first) = chars.next() else {
            self.at = start;
            return Ok(Token {
                kind: Kind::End,
                source: "",
                offset: start,
            });
        };
        let second = chars.next();
        let (kind, len) = match (first, second) {
            ('(', _) => (Kind::Open, 1),
            (')', _) => (Kind::Close, 1),
            (',', _) => (Kind::Comma, 1),
            ('~', _) => (Kind::Tilde, 1),
            ('=', Some('=')) => {
                return Err(self.unexpected(
                    start,
                    "==",
                    "write `=`, or `cs =` to compare case-sensitively",
                ));
            }
            ('=', _) => (Kind::Equal, 1),
            ('!', Some('=')) => (Kind::NotEqual, 2),
            ('!', _) => {
                return Err(self.unexpected(start, "!", "write `!=`, or `not` before a test"));
            }
            ('>', Some('=')) => (Kind::GreaterOrEqual, 2),
            ('>', _) => (Kind::Greater, 1),
            ('<', Some('=')) => (Kind::LessOrEqual, 2),
            ('<', _) => (Kind::Less, 1),
            ('^', Some('=')) => (Kind::Caret, 2),
            ('^', _) => {
                return Err(self.unexpected(start, "^", "write `^=` for starts with"));
            }
            ('"', _) => return self.string(start),
            ('&', _) => {
                return Err(self.unexpected(start, "&", "write `and` to join tests"));
            }
            ('|', _) => return Err(self.unexpected(start, "|", "write `or` to join tests")),
            ('*', _) => {
                return Err(self.unexpected(
                    start,
                    "*",
                    "there are no wildcards; write `^=` for starts with, `~` for contains, or quote the value",
                ));
            }
            ('\'', _) => {
                return Err(self.unexpected(start, "'", "strings take double quotes"));
            }
            (c, _) if RESERVED.contains(&c) => {
                return Err(self.unexpected(start, &c.to_string(), "quote a value that holds it"));
            }
            (c, _) if c.is_control() => {
                let shown = format!("U+{:04X}", u32::from(c));
                return Err(self.unexpected(start, &shown, "control characters go in strings"));
            }
            _ => (
                Kind::Word,
                rest.find(|c| !is_word_char(c)).unwrap_or(rest.len()),
            ),
        };
        self.at = start + len;
        Ok(Token {
            kind,
            source: &self.source[start..self.at],
            offset: start,
        })
    }

    fn unexpected(&self, offset: usize, found: &str, hint: &'static str) -> CompactError {
        self.error(
            offset,
            Problem::Unexpected {
                found: found.to_owned(),
                hint,
            },
        )
    }

    /// A quoted string, from its opening `"` at `start`.
    fn string(&mut self, start: usize) -> Result<Token<'a>, CompactError> {
        let mut text = String::new();
        let mut chars = self.source[start + 1..].char_indices();
        let at = |index: usize| start + 1 + index;
        loop {
            let Some((index, c)) = chars.next() else {
                return Err(self.error(start, Problem::UnclosedString));
            };
            match c {
                '"' => {
                    self.at = at(index) + 1;
                    return Ok(Token {
                        kind: Kind::Text(text),
                        source: &self.source[start..self.at],
                        offset: start,
                    });
                }
                '\\' => {
                    let escaped = match chars.next() {
                        None => return Err(self.error(start, Problem::UnclosedString)),
                        Some((_, '"')) => Some('"'),
                        Some((_, '\\')) => Some('\\'),
                        Some((_, 'n')) => Some('\n'),
                        Some((_, 'r')) => Some('\r'),
                        Some((_, 't')) => Some('\t'),
                        Some((_, 'u')) => unicode_escape(&mut chars),
                        Some(_) => None,
                    };
                    match escaped {
                        Some(c) => text.push(c),
                        None => {
                            // Quote the escape as far as it was read.
                            let end = chars
                                .clone()
                                .next()
                                .map_or(self.source.len(), |(next, _)| at(next));
                            let escape = &self.source[at(index)..end];
                            return Err(
                                self.error(at(index), Problem::UnknownEscape(shorten(escape)))
                            );
                        }
                    }
                }
                c => text.push(c),
            }
        }
    }
}

/// The character of a `\u{...}` escape, its `u` read: 1 to 6 hex digits in braces naming a
/// Unicode scalar value.
fn unicode_escape(chars: &mut std::str::CharIndices<'_>) -> Option<char> {
    if chars.next()?.1 != '{' {
        return None;
    }
    let mut code: u32 = 0;
    for digits in 0..=6 {
        let (_, c) = chars.next()?;
        if c == '}' {
            return if digits == 0 {
                None
            } else {
                char::from_u32(code)
            };
        }
        code = code * 16 + c.to_digit(16)?;
    }
    None
}

/// How an operator reads its values.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reading {
    /// `=`, `!=`, `in`: a string, a number, `true`, `false` or `null`.
    Scalar,
    /// `>` and the like: a string or a number.
    Ordered,
    /// `~` and `^=`: a string, whatever it looks like.
    Text,
    /// Any operator on `timeGenerated`: a date-time.
    Time,
}

#[derive(Debug)]
struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token<'a>>,
    /// The source of the last token taken, and of the one before it: what an error about
    /// the last token says it came after.
    last: &'a str,
    before_last: &'a str,
}

impl<'a> Parser<'a> {
    fn new(expression: &'a str) -> Result<Self, CompactError> {
        if expression.len() > MAX_EXPRESSION {
            let mut at = MAX_EXPRESSION;
            while !expression.is_char_boundary(at) {
                at -= 1;
            }
            return Err(CompactError::new(expression, at, Problem::TooLong));
        }
        Ok(Parser {
            lexer: Lexer {
                source: expression,
                at: 0,
            },
            peeked: None,
            last: "",
            before_last: "",
        })
    }

    fn peek(&mut self) -> Result<&Token<'a>, CompactError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        Ok(self.peeked.as_ref().expect("just peeked"))
    }

    fn next(&mut self) -> Result<Token<'a>, CompactError> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.lexer.next_token()?,
        };
        self.before_last = std::mem::replace(&mut self.last, token.source);
        Ok(token)
    }

    /// "expected `what` after the token before it, found `found`", for `found` the token
    /// just taken.
    fn expected(&self, what: &str, found: &Token<'_>) -> CompactError {
        let after = if self.before_last.is_empty() {
            String::new()
        } else {
            format!(" after `{}`", shorten(self.before_last))
        };
        self.expected_after(what, &after, found)
    }

    fn expected_after(&self, what: &str, after: &str, found: &Token<'_>) -> CompactError {
        self.lexer.error(
            found.offset,
            Problem::Expected {
                expected: format!("{what}{after}"),
                found: found.describe(),
            },
        )
    }

    fn expression(mut self) -> Result<Expr, CompactError> {
        let expr = self.or(0)?;
        let token = self.next()?;
        if token.kind != Kind::End {
            return Err(self.expected("`and`, `or` or the end", &token));
        }
        Ok(expr)
    }

    /// `depth` is how many parentheses and `not`s are open around this.
    fn or(&mut self, depth: usize) -> Result<Expr, CompactError> {
        let first = self.and(depth)?;
        if !self.peek()?.is("or") {
            return Ok(first);
        }
        let at = self.peek()?.offset;
        let mut parts = vec![first];
        while self.peek()?.is("or") {
            self.next()?;
            parts.push(self.and(depth)?);
        }
        Ok(Expr::Or { at, parts })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, CompactError> {
        let first = self.unary(depth)?;
        if !self.peek()?.is("and") {
            return Ok(first);
        }
        let at = self.peek()?.offset;
        let mut parts = vec![first];
        while self.peek()?.is("and") {
            self.next()?;
            parts.push(self.unary(depth)?);
        }
        Ok(Expr::And { at, parts })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, CompactError> {
        let token = self.peek()?.clone();
        let nests = token.is("not") || token.kind == Kind::Open;
        if nests && depth >= MAX_NESTING {
            return Err(self.lexer.error(token.offset, Problem::TooDeep));
        }
        if token.is("not") {
            self.next()?;
            let inner = self.unary(depth + 1)?;
            return Ok(Expr::Not {
                at: token.offset,
                inner: Box::new(inner),
            });
        }
        if token.kind == Kind::Open {
            self.next()?;
            let inner = self.or(depth + 1)?;
            let close = self.next()?;
            if close.kind != Kind::Close {
                return Err(self.expected("`and`, `or` or `)`", &close));
            }
            return Ok(inner);
        }
        self.test()
    }

    fn test(&mut self) -> Result<Expr, CompactError> {
        let token = self.next()?;
        let name = match &token.kind {
            Kind::Word if !(token.is("and") || token.is("or")) => token.source,
            Kind::Text(name) => name.as_str(),
            _ => return Err(self.expected("a test, `not` or `(`", &token)),
        };
        let Some(field) = known_field(name) else {
            return Err(self
                .lexer
                .error(token.offset, Problem::UnknownField(shorten(name))));
        };
        let reading_for = |reading| {
            if field == "timeGenerated" {
                Reading::Time
            } else {
                reading
            }
        };
        let mut operator = self.next()?;
        let case_sensitive = operator.is("cs");
        if case_sensitive {
            operator = self.next()?;
        }
        // `exists` until the operator says otherwise.
        let mut test = TestExpr {
            field: field.clone(),
            field_at: token.offset,
            kind: "exists",
            case_sensitive,
            value: Value::Bool(true),
            value_at: operator.offset,
            items_at: Vec::new(),
        };
        let (kind, reading) = match &operator.kind {
            Kind::Equal => ("eq", Reading::Scalar),
            Kind::NotEqual => ("notEq", Reading::Scalar),
            Kind::Greater => ("greater", Reading::Ordered),
            Kind::GreaterOrEqual => ("greaterOrEqual", Reading::Ordered),
            Kind::Less => ("less", Reading::Ordered),
            Kind::LessOrEqual => ("lessOrEqual", Reading::Ordered),
            Kind::Tilde => ("search", Reading::Text),
            Kind::Caret => ("startsWith", Reading::Text),
            Kind::Word if operator.is("contains") => ("search", Reading::Text),
            Kind::Word if operator.is("startswith") => ("startsWith", Reading::Text),
            Kind::Word if operator.is("exists") && !case_sensitive => {
                return Ok(Expr::Test(test));
            }
            Kind::Word if operator.is("in") => {
                self.list(&mut test, "in", "`in (`", reading_for(Reading::Scalar))?;
                return Ok(Expr::Test(test));
            }
            Kind::Word if operator.is("not") => {
                let next = self.next()?;
                if next.is("in") {
                    self.list(
                        &mut test,
                        "notIn",
                        "`not in (`",
                        reading_for(Reading::Scalar),
                    )?;
                } else if next.is("exists") && !case_sensitive {
                    test.value = Value::Bool(false);
                } else if case_sensitive {
                    return Err(self.expected("`in`", &next));
                } else {
                    return Err(self.expected("`in` or `exists`", &next));
                }
                return Ok(Expr::Test(test));
            }
            _ if case_sensitive => {
                return Err(self.expected(
                    "an operator that compares (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~`, `^=`, `in`, `not in`)",
                    &operator,
                ));
            }
            _ => {
                return Err(self.expected(
                    "an operator (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~`, `^=`, `in`, `not in`, `exists`, `not exists`, or `cs` before one)",
                    &operator,
                ));
            }
        };
        if reading == Reading::Text && field == "timeGenerated" {
            return Err(self.lexer.error(
                operator.offset,
                Problem::NotForTime(operator.source.to_owned()),
            ));
        }
        test.kind = kind;
        let (value, at) = self.value(reading_for(reading), None)?;
        test.value = value;
        test.value_at = at;
        Ok(Expr::Test(test))
    }

    /// `( value { , value } )`, after `in` or `not in`.
    fn list(
        &mut self,
        test: &mut TestExpr,
        kind: &'static str,
        opening: &str,
        reading: Reading,
    ) -> Result<(), CompactError> {
        let open = self.next()?;
        if open.kind != Kind::Open {
            return Err(self.expected("`(`", &open));
        }
        test.kind = kind;
        test.value_at = open.offset;
        let mut items = Vec::new();
        let mut after = format!(" after {opening}");
        loop {
            let (value, at) = self.value(reading, Some(&after))?;
            items.push(value);
            test.items_at.push(at);
            let token = self.next()?;
            match token.kind {
                Kind::Comma => after = " after `,`".to_owned(),
                Kind::Close => break,
                _ => return Err(self.expected("`,` or `)`", &token)),
            }
        }
        test.value = Value::Array(items);
        Ok(())
    }

    /// One value, read as `reading` says, and where it is; `after` says what it follows
    /// when that is more than the last token (`in (`).
    fn value(
        &mut self,
        reading: Reading,
        after: Option<&str>,
    ) -> Result<(Value, usize), CompactError> {
        let after = match after {
            Some(after) => after.to_owned(),
            None => format!(" after `{}`", shorten(self.last)),
        };
        let token = self.next()?;
        let (text, quoted) = match &token.kind {
            Kind::Word => (token.source.to_owned(), false),
            Kind::Text(text) => (text.clone(), true),
            _ => return Err(self.expected_after("a value", &after, &token)),
        };
        if !quoted && (token.is("and") || token.is("or") || token.is("not")) {
            return Err(self.lexer.error(
                token.offset,
                Problem::Expected {
                    expected: format!("a value{after}"),
                    found: format!("{} (quote a keyword to compare with it)", token.describe()),
                },
            ));
        }
        let value = match reading {
            Reading::Time => match UtcTime::parse_assuming_utc(&text) {
                Ok(time) => Value::String(time.to_string()),
                Err(_) => {
                    return Err(self
                        .lexer
                        .error(token.offset, Problem::NotATime(shorten(&text))));
                }
            },
            Reading::Text => Value::String(text),
            Reading::Scalar | Reading::Ordered if quoted => Value::String(text),
            Reading::Scalar | Reading::Ordered => {
                let value =
                    word_value(&text).map_err(|problem| self.lexer.error(token.offset, problem))?;
                if reading == Reading::Ordered && (value.is_boolean() || value.is_null()) {
                    return Err(self.expected_after("a number or a string", &after, &token));
                }
                value
            }
        };
        Ok((value, token.offset))
    }
}

/// The value a bare word stands for after `=` and the like: `true`, `false`, `null`, a
/// number (an integer when it is one) when [`numeric`] reads it so, else the word itself.
fn word_value(word: &str) -> Result<Value, Problem> {
    for (keyword, value) in [
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("null", Value::Null),
    ] {
        if word.eq_ignore_ascii_case(keyword) {
            return Ok(value);
        }
    }
    if let Some(number) = numeric(word) {
        if let Ok(integer) = word.parse::<i64>() {
            return Ok(integer.into());
        }
        if let Ok(integer) = word.parse::<u64>() {
            return Ok(integer.into());
        }
        return serde_json::Number::from_f64(number)
            .map(Value::Number)
            .ok_or_else(|| Problem::NumberOutOfRange(shorten(word)));
    }
    // Written as a number, but beyond a 64-bit float (`1e999`): not a word either.
    let digits = word.strip_prefix('-').unwrap_or(word);
    if digits.starts_with(|c: char| c.is_ascii_digit())
        && word.parse::<f64>().is_ok_and(f64::is_infinite)
    {
        return Err(Problem::NumberOutOfRange(shorten(word)));
    }
    Ok(Value::String(word.to_owned()))
}

/// The find language's name for a field written `name`, if it is one.
fn known_field(name: &str) -> Option<String> {
    const NAMES: &[&str] = &["id", "type", "entityType", "version", "timeGenerated"];
    if let Some(canonical) = NAMES.iter().find(|known| name.eq_ignore_ascii_case(known)) {
        return Some((*canonical).to_owned());
    }
    if name.eq_ignore_ascii_case("createdAt") {
        return Some("timeGenerated".to_owned());
    }
    let prefix = name.get(..8)?;
    let path = &name[8..];
    let valid = prefix.eq_ignore_ascii_case("details.")
        && !path.is_empty()
        && path.split('.').all(|key| !key.is_empty());
    valid.then(|| format!("details.{path}"))
}

#[cfg(test)]
mod tests;
