//! A pipeline test file (`docs/PIPELINE_TESTS.md`) → typed [`TestCase`]s, checked against the pipeline: every
//! problem located at its file:line:column (TOML spans), all of them reported together, as pipeline.toml's own
//! errors are.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use sluice_config::{ConfigError, ConfigErrors, KeyType, PathSegment, Pipeline, StreamTarget};
use sluice_contract::api::ApiError;
use sluice_contract::consumer::{Condition, Reason};

/// How long a test waits for the consumers, beyond the longest batching window of those it involves.
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(10);

/// The longest `timeout_seconds` a test may set.
const MAX_TIMEOUT_SECONDS: i64 = 3600;

/// One test: inputs sent in order on a fresh pipeline, then its expectations checked.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The file, as given or found.
    pub file: String,
    pub name: String,
    /// 1-based line of the test's `name`.
    pub line: usize,
    /// How long the consumers may take to catch up with the test's records.
    pub timeout: Duration,
    pub sends: Vec<Send>,
    pub items: Vec<ItemExpectation>,
}

/// One input and what is expected of it.
#[derive(Debug, Clone)]
pub struct Send {
    /// How the report names it: `send #2 (POST /prod/submit/…)`.
    pub label: String,
    pub input: Input,
    /// The status and error expected of a request (none for a record put on a stream).
    pub answer: Option<AnswerExpectation>,
    /// What the consumers are expected to do with the record.
    pub fate: Fate,
}

#[derive(Debug, Clone)]
pub enum Input {
    /// A request on a route.
    Request(Request),
    /// A record put straight on a stream.
    Record {
        stream: String,
        partition_key: String,
        data: RecordData,
    },
}

/// A record's data.
#[derive(Debug, Clone)]
pub enum RecordData {
    /// A body, which goes on the stream inside the envelope the gateway writes (made when it is sent).
    Body { body: String, source_ip: String },
    /// The data, byte for byte.
    Raw(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// From the stage on: `/prod/submit/GatewayEventsStream/e-1` (path parameters percent-encoded).
    pub path: String,
    /// The stream the route writes to for these parameters (a stream name parameter as given, even one the
    /// pipeline does not declare).
    pub stream: String,
    /// `None`: no `Content-Type` header.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub auth: Auth,
}

/// Which credentials a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The pipeline's username and password.
    Valid,
    /// The username with a password that is not the pipeline's.
    WrongPassword,
    /// No `Authorization` header.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerExpectation {
    pub status: u16,
    pub error: Option<ApiError>,
    /// A substring of the error's `message`.
    pub message: Option<String>,
}

/// What becomes of a record on the consumers' side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Nothing said (items are expected with `[[test.item]]`).
    Unstated,
    /// Every consumer of its stream skips it: no item holds it, no dead letter names it.
    Filtered,
    /// Dead-lettered with this reason (a writer's reason, or an on-failure condition) and, if given, a
    /// detail containing this text.
    DeadLetter {
        reason: String,
        detail: Option<String>,
    },
}

/// An item expected in a table (or expected absent).
#[derive(Debug, Clone)]
pub struct ItemExpectation {
    /// `EventTable[eventId=e-1]`.
    pub label: String,
    pub table: String,
    pub partition: String,
    pub sort: Option<String>,
    pub expected: ItemState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ItemState {
    /// There, with these members (a subset of the stored item; an empty object: just there).
    Present(Value),
    Absent,
}

// ---- the file as written ------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    test: Vec<RawTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    name: Spanned<String>,
    timeout_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    send: Vec<Spanned<RawSend>>,
    #[serde(default)]
    item: Vec<Spanned<RawItem>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSend {
    route: Option<Spanned<String>>,
    stream: Option<Spanned<String>>,
    // A request's.
    params: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    method: Option<Spanned<String>>,
    raw_body: Option<Spanned<String>>,
    content_type: Option<Spanned<String>>,
    auth: Option<Spanned<String>>,
    status: Option<Spanned<i64>>,
    error: Option<Spanned<String>>,
    message: Option<Spanned<String>>,
    // A record's.
    partition_key: Option<Spanned<String>>,
    data: Option<Spanned<String>>,
    source_ip: Option<Spanned<String>>,
    // Both.
    body: Option<Spanned<toml::Value>>,
    filtered: Option<Spanned<bool>>,
    dead_letter: Option<Spanned<String>>,
    dead_letter_detail: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    table: Spanned<String>,
    key: Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    members: Option<Spanned<toml::Value>>,
    absent: Option<Spanned<bool>>,
}

// ---- checking -------------------------------------------------------------------------------------------

/// Reads and checks one test file against `pipeline`.
pub fn load(path: &Path, pipeline: &Pipeline) -> Result<Vec<TestCase>, ConfigErrors> {
    let file = path.display().to_string();
    let src = match std::fs::read_to_string(path) {
        Ok(src) => src,
        Err(e) => {
            return Err(ConfigErrors::new(
                &file,
                "",
                vec![ConfigError {
                    message: format!("cannot read the test file: {e}"),
                    span: 0..0,
                    line: 1,
                    column: 1,
                    help: Some(
                        "give the path of a pipeline test file (see docs/PIPELINE_TESTS.md)".into(),
                    ),
                    file: None,
                }],
            ));
        }
    };
    parse(&src, &file, pipeline)
}

/// Checks the text of a test file named `file`.
pub fn parse(src: &str, file: &str, pipeline: &Pipeline) -> Result<Vec<TestCase>, ConfigErrors> {
    let mut c = Check {
        src,
        pipeline,
        errors: Vec::new(),
    };
    let raw: RawFile = match toml::from_str(src) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            c.err(
                span,
                e.message().trim().to_owned(),
                Some("the format is in docs/PIPELINE_TESTS.md".into()),
            );
            return Err(ConfigErrors::new(file, src, c.errors));
        }
    };
    if raw.test.is_empty() {
        c.err(
            0..0,
            "the file has no test",
            Some("add a `[[test]]` table with a `name` (see docs/PIPELINE_TESTS.md)".into()),
        );
    }
    let mut names = BTreeSet::new();
    let mut tests = Vec::new();
    for test in raw.test {
        if let Some(case) = c.test(file, test, &mut names) {
            tests.push(case);
        }
    }
    if c.errors.is_empty() {
        Ok(tests)
    } else {
        Err(ConfigErrors::new(file, src, c.errors))
    }
}

struct Check<'a> {
    src: &'a str,
    pipeline: &'a Pipeline,
    errors: Vec<ConfigError>,
}

impl Check<'_> {
    fn err(&mut self, span: Range<usize>, message: impl Into<String>, help: Option<String>) {
        let (line, column) = line_col(self.src, span.start);
        self.errors.push(ConfigError {
            message: message.into(),
            span,
            line,
            column,
            help,
            file: None,
        });
    }

    fn test(&mut self, file: &str, raw: RawTest, names: &mut BTreeSet<String>) -> Option<TestCase> {
        let before = self.errors.len();
        let name = raw.name.get_ref().trim().to_owned();
        if name.is_empty() {
            self.err(raw.name.span(), "the test's `name` is empty", None);
        } else if !names.insert(name.clone()) {
            self.err(
                raw.name.span(),
                format!("two tests are named \"{name}\""),
                Some("give each test of a file its own name".into()),
            );
        }
        if raw.send.is_empty() && raw.item.is_empty() {
            self.err(
                raw.name.span(),
                format!("test \"{name}\" sends nothing and expects nothing"),
                Some(
                    "add `[[test.send]]` inputs and their expectations, or `[[test.item]]`".into(),
                ),
            );
        }
        let timeout = match &raw.timeout_seconds {
            Some(t) if !(1..=MAX_TIMEOUT_SECONDS).contains(t.get_ref()) => {
                self.err(
                    t.span(),
                    format!(
                        "`timeout_seconds` is {}, but must be between 1 and {MAX_TIMEOUT_SECONDS}",
                        t.get_ref()
                    ),
                    None,
                );
                None
            }
            Some(t) => Some(Duration::from_secs(t.get_ref().unsigned_abs())),
            None => None,
        };
        let mut sends = Vec::new();
        for (index, send) in raw.send.into_iter().enumerate() {
            if let Some(send) = self.send(index + 1, send) {
                sends.push(send);
            }
        }
        let items: Vec<ItemExpectation> =
            raw.item.into_iter().filter_map(|i| self.item(i)).collect();
        if self.errors.len() > before {
            return None;
        }
        let timeout = timeout.unwrap_or_else(|| self.default_timeout(&sends, &items));
        Some(TestCase {
            file: file.to_owned(),
            name,
            line: line_col(self.src, raw.name.span().start).0,
            timeout,
            sends,
            items,
        })
    }

    /// The longest batching window of the consumers the test involves (reading a stream it sends to, or
    /// writing a table it expects an item in), plus [`DEFAULT_PATIENCE`].
    fn default_timeout(&self, sends: &[Send], items: &[ItemExpectation]) -> Duration {
        let streams: BTreeSet<&str> = sends
            .iter()
            .map(|s| match &s.input {
                Input::Request(r) => r.stream.as_str(),
                Input::Record { stream, .. } => stream.as_str(),
            })
            .collect();
        let window = self
            .pipeline
            .consumers
            .values()
            .filter(|c| {
                streams.contains(c.stream.as_str()) || items.iter().any(|i| i.table == c.table)
            })
            .map(|c| c.batching_window_seconds)
            .max()
            .unwrap_or(0);
        Duration::from_secs(u64::from(window)) + DEFAULT_PATIENCE
    }

    /// A name of `known` (pipeline.toml's routes, streams, tables), or an error suggesting the closest.
    fn known<'k>(
        &mut self,
        what: &str,
        given: &Spanned<String>,
        known: impl Iterator<Item = &'k String> + Clone,
    ) -> Option<String> {
        let name = given.get_ref();
        if known.clone().any(|k| k == name) {
            return Some(name.clone());
        }
        let list = known
            .clone()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let closest = known
            .map(|k| (strsim::jaro_winkler(k, name), k))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k.clone());
        let help = match closest {
            Some(k) => format!("did you mean `{k}`? pipeline.toml's {what}s: {list}"),
            None if list.is_empty() => format!("pipeline.toml declares no {what}"),
            None => format!(
                "pipeline.toml's {what}s: {list} (is this test for another pipeline? pass its --config)"
            ),
        };
        self.err(
            given.span(),
            format!("there is no {what} `{name}` in pipeline.toml"),
            Some(help),
        );
        None
    }

    fn send(&mut self, index: usize, raw: Spanned<RawSend>) -> Option<Send> {
        let span = raw.span();
        let raw = raw.into_inner();
        let input = match (&raw.route, &raw.stream) {
            (Some(_), Some(stream)) => {
                self.err(
                    stream.span(),
                    "a send has either a `route` (a request) or a `stream` (a record put straight on it), not both",
                    None,
                );
                return None;
            }
            (None, None) => {
                self.err(
                    span.start..span.start,
                    format!("send #{index} has neither a `route` nor a `stream`"),
                    Some(
                        "`route = \"…\"` sends a request; `stream = \"…\"` puts a record straight on a stream"
                            .into(),
                    ),
                );
                return None;
            }
            (Some(route), None) => self.request(route, &raw),
            (None, Some(stream)) => self.record(stream, &raw),
        };
        let answer = match raw.route {
            Some(_) => self.answer(&raw),
            None => None,
        };
        let fate = self.fate(&raw, answer.as_ref(), input.as_ref());
        let input = input?;
        let label = match &input {
            Input::Request(r) => format!("send #{index} ({} {})", r.method, r.path),
            Input::Record {
                stream,
                partition_key,
                ..
            } => format!("send #{index} (record on {stream}, partition key {partition_key:?})"),
        };
        Some(Send {
            label,
            input,
            answer,
            fate: fate?,
        })
    }
}

/// Where to point at a send's route (for a missing parameter).
fn route_span(raw: &RawSend) -> Range<usize> {
    raw.route.as_ref().map_or(0..0, Spanned::span)
}

/// A string or number as text.
fn scalar_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) if f.is_finite() => Some(f.to_string()),
        _ => None,
    }
}

/// A TOML value as JSON (a date-time as its text).
pub fn to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        toml::Value::Table(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// Percent-encodes a path segment (everything but RFC 3986's unreserved characters).
fn percent_encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

mod expectations;
mod inputs;
#[cfg(test)]
mod tests;
