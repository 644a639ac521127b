//! Event filters: which records of a stream a consumer's event source mapping delivers.
//!
//! A consumer lists filter patterns in Lambda's filter-criteria grammar (EventBridge's event patterns), on
//! the record as sluice writes it: the envelope's members (`body`, the request body; `sourceIp`,
//! `requestId`, `receivedAt`, `v`) and the record's `partitionKey`. AWS filters Kinesis records on their
//! `data` (the envelope, parsed as JSON) and metadata, so [`compile`] renders `{"body": …}` as
//! `{"data": {"body": …}}` for the event source mapping, and checks the grammar Lambda takes (its
//! operators, `$or`, AWS's limits) with errors located in the pattern. Lambda's event filtering takes a
//! subset of EventBridge's operators: EventBridge's `wildcard`, `cidr` and `anything-but` with `prefix`,
//! `suffix`, `equals-ignore-case` or `wildcard` are refused here, as `CreateEventSourceMapping` would
//! refuse them. [`Pattern`] is the checked pattern over the record as AWS sees it, which the local event
//! source mapping matches records against: keys are paths (`"a.b"` is `"a": {"b": …}`), and a path given
//! twice keeps its last rules, as AWS's rule compiler does.

use crate::error::closest;
use crate::json::{Json, JsonValue, Member};
use crate::problem::{Problem, Problems};

/// Lambda's default quota of filters per event source mapping (10 with a quota increase).
pub const MAX_FILTERS: usize = 5;
/// The longest pattern Lambda takes (`Filter.Pattern`, characters).
pub const MAX_PATTERN_CHARS: usize = 4096;
/// EventBridge's numeric matching covers -5.0e9 to +5.0e9.
pub const NUMERIC_LIMIT: f64 = 5.0e9;

/// The top-level members a sluice pattern may name: the envelope's (under the record's `data` on AWS) and
/// the partition key.
pub const ENVELOPE_KEYS: &[&str] = &["body", "sourceIp", "requestId", "receivedAt", "v"];
pub const PARTITION_KEY: &str = "partitionKey";
/// Where AWS puts a Kinesis record's parsed data in the filtered event.
pub const DATA: &str = "data";

/// A checked pattern: every field must match, and one alternative of every `$or`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pattern {
    pub fields: Vec<(String, Field)>,
    pub any_of: Vec<Vec<Pattern>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A list of rules, one of which must match the value.
    Rules(Vec<Rule>),
    /// A pattern on an object.
    Nested(Pattern),
}

/// A literal to match exactly (numbers by their text or, when both are within ±5e9, by value).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(String),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Exact(Literal),
    Prefix {
        value: String,
        ignore_case: bool,
    },
    Suffix {
        value: String,
        ignore_case: bool,
    },
    EqualsIgnoreCase(String),
    /// Any value but these (strings only, or numbers only).
    AnythingBut(Vec<Literal>),
    Numeric(NumericRange),
    Exists(bool),
}

/// A numeric range; each bound with whether it is inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumericRange {
    pub lower: Option<(f64, bool)>,
    pub upper: Option<(f64, bool)>,
}

/// A consumer's filter: the pattern as Lambda takes it, and as the local emulator matches it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    /// `FilterCriteria.Filters[].Pattern`: compact JSON on the record as AWS sees it.
    pub aws_pattern: String,
    pub pattern: Pattern,
}

/// The operators Lambda's event filtering takes (its developer guide's rule syntax table; EventBridge's
/// operator table, "Pipe support").
const OPERATORS: &[&str] = &[
    "prefix",
    "suffix",
    "equals-ignore-case",
    "anything-but",
    "numeric",
    "exists",
];

/// EventBridge's operators that Lambda's event filtering does not take.
const EVENTBRIDGE_ONLY: &[&str] = &["wildcard", "cidr"];

const LAMBDA_HELP: &str = "Lambda's event filtering takes exact values, prefix, suffix, equals-ignore-case, \
     anything-but (a value or a list), numeric, exists and $or";

/// Checks a sluice pattern and compiles it for AWS and for the local matcher.
pub fn compile(root: &Json) -> Result<EventFilter, Vec<Problem>> {
    let mut c = Problems::default();
    top(&mut c, root);
    if !c.is_empty() {
        return Err(c.list);
    }
    let aws = to_aws(root);
    let aws_pattern = render(&aws);
    if aws_pattern.chars().count() > MAX_PATTERN_CHARS {
        c.err(
            &root.span,
            format!(
                "the pattern is {} characters as AWS takes it; Lambda allows {MAX_PATTERN_CHARS}",
                aws_pattern.chars().count()
            ),
            None,
        );
        return Err(c.list);
    }
    Ok(EventFilter {
        aws_pattern,
        pattern: typed(&aws),
    })
}

/// The top level: only the envelope's members, the partition key and `$or`.
fn top(c: &mut Problems, root: &Json) {
    let JsonValue::Object(members) = &root.value else {
        c.err(
            &root.span,
            format!(
                "a filter pattern must be a JSON object, not {}",
                root.type_name()
            ),
            None,
        );
        return;
    };
    if members.is_empty() {
        c.err(
            &root.span,
            "an empty pattern matches every record; leave the filter out instead",
            None,
        );
    }
    for m in members {
        match m.key.as_str() {
            "$or" => or(c, m, true),
            "body" => match &m.value.value {
                JsonValue::Object(_) => pattern(c, &m.value),
                _ => c.err(
                    &m.value.span,
                    "`body` is the request body, a JSON object: write a pattern on its members, e.g. {\"body\": {\"kind\": [\"order\"]}}",
                    None,
                ),
            },
            key if key == PARTITION_KEY || ENVELOPE_KEYS.contains(&key) => match &m.value.value {
                JsonValue::Array(_) => rules(c, &m.value),
                _ => c.err(
                    &m.value.span,
                    format!("`{key}` is a string or number: match it with a list of rules, e.g. [\"…\"]"),
                    None,
                ),
            },
            other => {
                let all: Vec<&str> = ENVELOPE_KEYS.iter().copied().chain([PARTITION_KEY, "$or"]).collect();
                let help = match closest(other, all.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "a pattern names {}; a member of the request body goes under \"body\": {{\"{other}\": …}}",
                        all.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                c.err(
                    &m.key_span,
                    format!("a filter pattern cannot name `{other}`: patterns are written on the record's envelope and partition key"),
                    Some(help),
                );
            }
        }
    }
}

fn or(c: &mut Problems, m: &Member, at_top: bool) {
    match &m.value.value {
        JsonValue::Array(items) if items.len() >= 2 => {
            for item in items {
                match &item.value {
                    JsonValue::Object(_) if at_top => top(c, item),
                    JsonValue::Object(_) => pattern(c, item),
                    _ => c.err(
                        &item.span,
                        "each `$or` alternative must be a pattern object",
                        None,
                    ),
                }
            }
        }
        _ => c.err(
            &m.value.span,
            "`$or` takes a list of at least two pattern objects",
            None,
        ),
    }
}

/// A pattern below the top level: any member names.
fn pattern(c: &mut Problems, node: &Json) {
    let members = node.members();
    if members.is_empty() {
        c.err(
            &node.span,
            "an empty pattern object matches nothing useful; leave it out",
            None,
        );
    }
    for m in members {
        if m.key == "$or" {
            or(c, m, false);
            continue;
        }
        match &m.value.value {
            JsonValue::Object(_) => pattern(c, &m.value),
            JsonValue::Array(_) => rules(c, &m.value),
            _ => c.err(
                &m.value.span,
                format!(
                    "a value to match must be in a list: \"{}\": [{}] (AWS: \"{}\" must be an object or an array)",
                    m.key,
                    render(&m.value),
                    m.key
                ),
                None,
            ),
        }
    }
}

/// A list of rules.
fn rules(c: &mut Problems, list: &Json) {
    let JsonValue::Array(items) = &list.value else {
        return;
    };
    if items.is_empty() {
        c.err(
            &list.span,
            "an empty list matches nothing (AWS: \"Empty arrays are not allowed\")",
            Some("use [null] to match null, [\"\"] to match an empty string".into()),
        );
    }
    for item in items {
        match &item.value {
            JsonValue::String(_) | JsonValue::Number(_) | JsonValue::Bool(_) | JsonValue::Null => {}
            JsonValue::Array(_) => {
                c.err(&item.span, "lists do not nest: list the values once", None)
            }
            JsonValue::Object(members) => {
                if members.len() != 1 {
                    c.err(
                        &item.span,
                        "an operator object holds exactly one operator",
                        None,
                    );
                    continue;
                }
                operator(c, &members[0]);
            }
        }
    }
}

fn operator(c: &mut Problems, m: &Member) {
    let v = &m.value;
    match m.key.as_str() {
        "prefix" | "suffix" => match &v.value {
            JsonValue::String(_) => {}
            JsonValue::Object(inner)
                if inner.len() == 1 && inner[0].key == "equals-ignore-case" =>
            {
                if inner[0].value.as_str().is_none() {
                    c.err(
                        &inner[0].value.span,
                        "`equals-ignore-case` takes a string (AWS: \"equals-ignore-case match pattern must be a string\")",
                        None,
                    );
                }
            }
            _ => c.err(
                &v.span,
                format!(
                    "`{0}` takes a string, or {{\"equals-ignore-case\": \"…\"}} (AWS: \"{0} match pattern must be a string\")",
                    m.key
                ),
                None,
            ),
        },
        "equals-ignore-case" => {
            if v.as_str().is_none() {
                c.err(
                    &v.span,
                    "`equals-ignore-case` takes a string (AWS: \"equals-ignore-case match pattern must be a string\")",
                    None,
                );
            }
        }
        "exists" => {
            if !matches!(v.value, JsonValue::Bool(_)) {
                c.err(&v.span, "`exists` takes true or false", None);
            }
        }
        "numeric" => numeric(c, v),
        "anything-but" => anything_but(c, v),
        other if EVENTBRIDGE_ONLY.contains(&other) => c.err(
            &m.key_span,
            format!(
                "`{other}` is EventBridge's, not Lambda's: CreateEventSourceMapping refuses it"
            ),
            Some(match other {
                "cidr" => format!(
                    "{LAMBDA_HELP}; a network on an octet boundary is a prefix, e.g. {{\"prefix\": \"10.\"}} for 10.0.0.0/8"
                ),
                _ => format!("{LAMBDA_HELP}; a wildcard at one end is a prefix or a suffix"),
            }),
        ),
        other => c.err(
            &m.key_span,
            format!("`{other}` is not a filter operator (AWS: \"Unrecognized match type {other}\")"),
            Some(match closest(other, OPERATORS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("operators: {}", OPERATORS.join(", ")),
            }),
        ),
    }
}

fn anything_but(c: &mut Problems, v: &Json) {
    match &v.value {
        JsonValue::String(_) | JsonValue::Number(_) => {}
        JsonValue::Array(items) if !items.is_empty() => {
            let strings = items.iter().all(|i| matches!(i.value, JsonValue::String(_)));
            let numbers = items.iter().all(|i| matches!(i.value, JsonValue::Number(_)));
            if !strings && !numbers {
                c.err(
                    &v.span,
                    "an `anything-but` list holds only strings or only numbers (AWS: \"Inside anything but list, start|null|boolean is not supported.\")",
                    None,
                );
            }
        }
        JsonValue::Object(inner) if inner.len() == 1 => {
            let m = &inner[0];
            let empty_affix = matches!(m.key.as_str(), "prefix" | "suffix") && m.value.as_str() == Some("");
            if empty_affix {
                c.err(
                    &m.value.span,
                    format!("an empty `{}` under `anything-but` is refused by AWS (\"Null prefix/suffix not allowed\")", m.key),
                    None,
                );
                return;
            }
            c.err(
                &m.key_span,
                format!(
                    "`anything-but` with `{}` is EventBridge's, not Lambda's: CreateEventSourceMapping refuses it",
                    m.key
                ),
                Some(format!("{LAMBDA_HELP}; anything-but takes a value or a list of values here")),
            );
        }
        _ => c.err(
            &v.span,
            "`anything-but` takes a string, a number, or a non-empty list of strings or of numbers (AWS: \"Value of anything-but must be an array or single string/number value.\")",
            None,
        ),
    }
}

fn numeric(c: &mut Problems, v: &Json) {
    let JsonValue::Array(items) = &v.value else {
        c.err(
            &v.span,
            "`numeric` takes a list such as [\">\", 0, \"<=\", 5] (AWS: \"Value of numeric must be an array.\")",
            None,
        );
        return;
    };
    match numeric_range(items) {
        Ok(_) => {}
        Err(message) => c.err(
            &v.span,
            message,
            Some("e.g. [\"=\", 100], [\"<\", 10] or [\">\", 0, \"<=\", 5]".into()),
        ),
    }
}

/// The range a `numeric` list describes, or why it is not one.
fn numeric_range(items: &[Json]) -> Result<NumericRange, String> {
    let pair = |i: usize| -> Result<(&str, f64), String> {
        let op = items
            .get(i)
            .and_then(Json::as_str)
            .ok_or_else(|| "`numeric` alternates operators (strings) and numbers".to_string())?;
        let n = items.get(i + 1).and_then(Json::as_f64).ok_or_else(|| {
            format!(
                "`numeric`: `{op}` needs a number after it (AWS: \"Value of {op} must be numeric\")"
            )
        })?;
        if !(-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&n) {
            return Err(format!(
                "`numeric` matches numbers from -5e9 to 5e9 only; {n} is outside"
            ));
        }
        Ok((op, n))
    };
    let (op, n) = pair(0)?;
    let mut range = NumericRange {
        lower: None,
        upper: None,
    };
    match op {
        "=" => {
            if items.len() != 2 {
                return Err("`numeric` with \"=\" takes exactly one number".into());
            }
            range.lower = Some((n, true));
            range.upper = Some((n, true));
            return Ok(range);
        }
        ">" | ">=" => range.lower = Some((n, op == ">=")),
        "<" | "<=" => range.upper = Some((n, op == "<=")),
        other => {
            return Err(format!(
                "`{other}` is not a numeric operator (=, <, <=, >, >=)"
            ));
        }
    }
    match items.len() {
        2 => Ok(range),
        3 | 4 => {
            let (op2, m) = pair(2)?;
            if range.lower.is_none() || !matches!(op2, "<" | "<=") {
                return Err(format!(
                    "a `numeric` range gives its lower bound (> or >=) first, then its upper bound (< or <=) (AWS: \"Bad numeric range operator: {op2}\")"
                ));
            }
            if m <= n {
                return Err(format!(
                    "the `numeric` range is empty: its upper bound {m} is not above its lower bound {n}"
                ));
            }
            range.upper = Some((m, op2 == "<="));
            Ok(range)
        }
        _ => Err("`numeric` takes one comparison or two (a lower and an upper bound)".into()),
    }
}

/// The pattern as AWS sees the record: envelope members moved under `data`.
fn to_aws(root: &Json) -> Json {
    let mut out: Vec<Member> = Vec::new();
    let mut data: Vec<Member> = Vec::new();
    for m in root.members() {
        match m.key.as_str() {
            "$or" => {
                let alternatives = match &m.value.value {
                    JsonValue::Array(items) => items.iter().map(to_aws).collect(),
                    _ => Vec::new(),
                };
                out.push(member(
                    "$or",
                    Json {
                        span: m.value.span.clone(),
                        value: JsonValue::Array(alternatives),
                    },
                ));
            }
            key if ENVELOPE_KEYS.contains(&key) => data.push(m.clone()),
            _ => out.push(m.clone()),
        }
    }
    if !data.is_empty() {
        out.insert(
            0,
            member(
                DATA,
                Json {
                    span: root.span.clone(),
                    value: JsonValue::Object(data),
                },
            ),
        );
    }
    Json {
        span: root.span.clone(),
        value: JsonValue::Object(out),
    }
}

fn member(key: &str, value: Json) -> Member {
    Member {
        key: key.to_string(),
        key_span: value.span.clone(),
        value,
    }
}

/// Compact JSON with numbers as written.
pub fn render(json: &Json) -> String {
    let mut out = String::new();
    write(&mut out, json);
    out
}

fn write(out: &mut String, json: &Json) {
    match &json.value {
        JsonValue::Null => out.push_str("null"),
        JsonValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        JsonValue::Number(text) => out.push_str(text),
        JsonValue::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        JsonValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        JsonValue::Object(members) => {
            out.push('{');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(&m.key).unwrap_or_default());
                out.push(':');
                write(out, &m.value);
            }
            out.push('}');
        }
    }
}

/// The checked pattern, typed (only called on patterns that passed the checks). A key is a path, as AWS
/// reads it: `"a.b"` is `"a": {"b": …}`, and a path given twice keeps its last rules (AWS's rule compiler
/// overrides it rather than refuse the pattern).
fn typed(node: &Json) -> Pattern {
    let mut p = Pattern::default();
    add(&mut p, node);
    p
}

fn add(p: &mut Pattern, node: &Json) {
    for m in node.members() {
        match &m.value.value {
            JsonValue::Array(items) if m.key == "$or" => {
                p.any_of.push(items.iter().map(typed).collect());
            }
            JsonValue::Object(_) => add(nested(&mut *p, &m.key), &m.value),
            JsonValue::Array(items) => {
                let rules = Field::Rules(items.iter().filter_map(rule).collect());
                let (parent, last) = match m.key.rsplit_once('.') {
                    Some((path, last)) => (nested(&mut *p, path), last),
                    None => (&mut *p, m.key.as_str()),
                };
                match parent
                    .fields
                    .iter_mut()
                    .find(|(k, f)| k == last && matches!(f, Field::Rules(_)))
                {
                    Some(slot) => slot.1 = rules,
                    None => parent.fields.push((last.to_string(), rules)),
                }
            }
            _ => {}
        }
    }
}

/// The pattern at a dotted path below `p`, made if it is not there yet.
fn nested<'a>(mut p: &'a mut Pattern, path: &str) -> &'a mut Pattern {
    for step in path.split('.') {
        let at = match p
            .fields
            .iter()
            .position(|(k, f)| k == step && matches!(f, Field::Nested(_)))
        {
            Some(at) => at,
            None => {
                p.fields
                    .push((step.to_string(), Field::Nested(Pattern::default())));
                p.fields.len() - 1
            }
        };
        let Field::Nested(inner) = &mut p.fields[at].1 else {
            unreachable!("the position of a nested field")
        };
        p = inner;
    }
    p
}

fn literal(v: &Json) -> Option<Literal> {
    Some(match &v.value {
        JsonValue::String(s) => Literal::String(s.clone()),
        JsonValue::Number(n) => Literal::Number(n.clone()),
        JsonValue::Bool(b) => Literal::Bool(*b),
        JsonValue::Null => Literal::Null,
        _ => return None,
    })
}

fn rule(item: &Json) -> Option<Rule> {
    if let Some(l) = literal(item) {
        return Some(Rule::Exact(l));
    }
    let m = item.members().first()?;
    let v = &m.value;
    let affix = |v: &Json| match (
        v.as_str(),
        v.get("equals-ignore-case").and_then(Json::as_str),
    ) {
        (Some(s), _) => Some((s.to_string(), false)),
        (None, Some(s)) => Some((s.to_string(), true)),
        _ => None,
    };
    Some(match m.key.as_str() {
        "prefix" => {
            let (value, ignore_case) = affix(v)?;
            Rule::Prefix { value, ignore_case }
        }
        "suffix" => {
            let (value, ignore_case) = affix(v)?;
            Rule::Suffix { value, ignore_case }
        }
        "equals-ignore-case" => Rule::EqualsIgnoreCase(v.as_str()?.to_string()),
        "exists" => Rule::Exists(matches!(v.value, JsonValue::Bool(true))),
        "numeric" => match &v.value {
            JsonValue::Array(items) => Rule::Numeric(numeric_range(items).ok()?),
            _ => return None,
        },
        "anything-but" => Rule::AnythingBut(match &v.value {
            JsonValue::Array(items) => items.iter().filter_map(literal).collect(),
            _ => vec![literal(v)?],
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
