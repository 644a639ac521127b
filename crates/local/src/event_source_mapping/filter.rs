//! Lambda's event filtering, as pure functions: whether the event source mapping delivers a Kinesis record.
//!
//! AWS applies a mapping's filter criteria to each record before it is batched (so a batch holds only
//! matching records) and moves the shard's iterator past the others: they are never delivered, never
//! retried, never sent to the on-failure destination. A record matches when one filter's pattern matches
//! the record seen as `{"partitionKey": …, "data": <the data parsed as JSON>}`. When the data is not JSON, a
//! pattern on `data` does not match it (Lambda drops the record), while a pattern on the partition key alone
//! still can.
//!
//! Pattern semantics are EventBridge's (which Lambda documents it uses), as in AWS's event-ruler, and agree
//! with every case recorded on AWS in `aws_cases/cases.json`:
//! - keys are paths on both sides: a pattern's `"a.b"` is `"a": {"b": …}` (see
//!   `sluice_config::filter::Pattern`), and so is an event's, so either spelling matches the other;
//! - every field of a pattern must match, and one alternative of every `$or`;
//! - a field matches when one of its rules matches one of its values: a field holding an array offers each
//!   element (arrays of objects are matched element by element, so two fields never match in different
//!   elements of the same array);
//! - exact values compare strings exactly, and numbers by value when both are within ±5e9 (`300` matches
//!   `300.0` and `3.0e2`, as AWS answers, against its own note that they differ), else by their text;
//!   `numeric` compares numbers by value, within ±5e9;
//! - `exists` looks at leaf values only: an object or an empty array is not one, so `exists: false` matches
//!   it and `exists: true` does not;
//! - operators on strings (prefix, suffix, equals-ignore-case) never match other types; `anything-but`
//!   matches any other leaf value (also `null`, or a number against strings).

use sluice_config::filter::{
    DATA, EventFilter, Field, Literal, NUMERIC_LIMIT, PARTITION_KEY, Pattern, Rule,
};
use sluice_config::json::{self, Json, JsonValue, Member};

/// The record as Lambda filters it, and whether its data was JSON.
pub fn record_event(partition_key: &str, data: &[u8]) -> (Json, bool) {
    let parsed = std::str::from_utf8(data)
        .ok()
        .and_then(|text| json::parse(text).ok());
    let data_is_json = parsed.is_some();
    let mut members = vec![Member {
        key: PARTITION_KEY.to_string(),
        key_span: 0..0,
        value: Json {
            span: 0..0,
            value: JsonValue::String(partition_key.to_string()),
        },
    }];
    if let Some(data) = parsed {
        members.push(Member {
            key: DATA.to_string(),
            key_span: 0..0,
            value: data,
        });
    }
    (
        Json {
            span: 0..0,
            value: JsonValue::Object(members),
        },
        data_is_json,
    )
}

/// Whether the mapping delivers a record: always without filters, else when one filter matches.
pub fn delivers(filters: &[EventFilter], partition_key: &str, data: &[u8]) -> bool {
    if filters.is_empty() {
        return true;
    }
    let (event, data_is_json) = record_event(partition_key, data);
    let event = paths(&event);
    filters.iter().any(|f| {
        (data_is_json || !references_data(&f.pattern)) && matches_value(&f.pattern, Some(&event))
    })
}

/// Whether a pattern looks at the record's data.
pub fn references_data(p: &Pattern) -> bool {
    p.fields.iter().any(|(key, _)| key == DATA) || p.any_of.iter().flatten().any(references_data)
}

/// Whether a pattern matches an event.
pub fn matches(p: &Pattern, event: &Json) -> bool {
    matches_value(p, Some(&paths(event)))
}

/// The event with its keys read as paths, as AWS flattens it: `{"a.b": 1}` is `{"a": {"b": 1}}`, and
/// members that reach the same object are merged. Two values at the same path are both offered, as the
/// elements of an array are.
fn paths(event: &Json) -> Json {
    let value = match &event.value {
        JsonValue::Object(members) => {
            let mut out: Vec<Member> = Vec::new();
            for m in members {
                let mut steps = m.key.split('.').rev();
                let last = steps.next().unwrap_or_default();
                let mut value = paths(&m.value);
                let mut key = last.to_string();
                for step in steps {
                    value = object(vec![member(&key, value)]);
                    key = step.to_string();
                }
                insert(&mut out, key, value);
            }
            JsonValue::Object(out)
        }
        JsonValue::Array(items) => JsonValue::Array(items.iter().map(paths).collect()),
        other => other.clone(),
    };
    Json { span: 0..0, value }
}

fn object(members: Vec<Member>) -> Json {
    Json {
        span: 0..0,
        value: JsonValue::Object(members),
    }
}

fn member(key: &str, value: Json) -> Member {
    Member {
        key: key.to_string(),
        key_span: 0..0,
        value,
    }
}

fn insert(out: &mut Vec<Member>, key: String, value: Json) {
    let Some(existing) = out.iter_mut().find(|m| m.key == key) else {
        out.push(member(&key, value));
        return;
    };
    let previous = std::mem::replace(&mut existing.value, object(Vec::new()));
    existing.value = match (previous.value, value.value) {
        (JsonValue::Object(mut a), JsonValue::Object(b)) => {
            for m in b {
                insert(&mut a, m.key, m.value);
            }
            object(a)
        }
        (a, b) => Json {
            span: 0..0,
            value: JsonValue::Array(vec![
                Json {
                    span: 0..0,
                    value: a,
                },
                Json {
                    span: 0..0,
                    value: b,
                },
            ]),
        },
    };
}

fn matches_value(p: &Pattern, v: Option<&Json>) -> bool {
    if let Some(Json {
        value: JsonValue::Array(items),
        ..
    }) = v
    {
        if items.is_empty() {
            return matches_value(p, None);
        }
        return items.iter().any(|item| matches_value(p, Some(item)));
    }
    let fields = p.fields.iter().all(|(key, field)| {
        let child = v.and_then(|v| v.get(key));
        match field {
            Field::Nested(inner) => matches_value(inner, child),
            Field::Rules(rules) => leaf(rules, child),
        }
    });
    fields
        && p.any_of
            .iter()
            .all(|alternatives| alternatives.iter().any(|a| matches_value(a, v)))
}

/// The leaf values of a field: its scalar, or the scalars of its (nested) arrays.
fn leaves<'a>(v: Option<&'a Json>, out: &mut Vec<&'a Json>) {
    match v.map(|v| &v.value) {
        None | Some(JsonValue::Object(_)) => {}
        Some(JsonValue::Array(items)) => {
            for item in items {
                leaves(Some(item), out);
            }
        }
        Some(_) => out.extend(v),
    }
}

fn leaf(rules: &[Rule], v: Option<&Json>) -> bool {
    let mut values = Vec::new();
    leaves(v, &mut values);
    rules.iter().any(|r| match r {
        Rule::Exists(true) => !values.is_empty(),
        Rule::Exists(false) => values.is_empty(),
        r => values.iter().any(|x| rule(r, x)),
    })
}

fn literal_eq(l: &Literal, x: &Json) -> bool {
    match (l, &x.value) {
        (Literal::String(a), JsonValue::String(b)) => a == b,
        (Literal::Number(a), JsonValue::Number(b)) => a == b || same_number(a, b),
        (Literal::Bool(a), JsonValue::Bool(b)) => a == b,
        (Literal::Null, JsonValue::Null) => true,
        _ => false,
    }
}

/// Two numbers equal by value, both within the range AWS compares numbers in.
fn same_number(a: &str, b: &str) -> bool {
    let value = |text: &str| {
        text.parse::<f64>()
            .ok()
            .filter(|n| (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(n))
    };
    matches!((value(a), value(b)), (Some(a), Some(b)) if a == b)
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

fn rule(r: &Rule, x: &Json) -> bool {
    let text = x.as_str();
    match r {
        Rule::Exact(l) => literal_eq(l, x),
        Rule::Prefix { value, ignore_case } => text.is_some_and(|s| {
            if *ignore_case {
                fold(s).starts_with(&fold(value))
            } else {
                s.starts_with(value.as_str())
            }
        }),
        Rule::Suffix { value, ignore_case } => text.is_some_and(|s| {
            if *ignore_case {
                fold(s).ends_with(&fold(value))
            } else {
                s.ends_with(value.as_str())
            }
        }),
        Rule::EqualsIgnoreCase(value) => text.is_some_and(|s| fold(s) == fold(value)),
        Rule::AnythingBut(values) => !values.iter().any(|l| literal_eq(l, x)),
        Rule::Numeric(range) => x.as_f64().is_some_and(|n| {
            (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&n)
                && range
                    .lower
                    .is_none_or(|(b, inclusive)| if inclusive { n >= b } else { n > b })
                && range
                    .upper
                    .is_none_or(|(b, inclusive)| if inclusive { n <= b } else { n < b })
        }),
        Rule::Exists(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_config::filter;

    /// A pattern in AWS's form (on the whole event), compiled through sluice's grammar: a top-level `data`
    /// becomes the sluice envelope's members.
    fn aws(pattern: &str) -> Pattern {
        // sluice patterns name envelope members; AWS's examples name arbitrary fields, so test the matcher
        // on patterns typed directly from their JSON.
        let json = json::parse(pattern).unwrap();
        typed(&json)
    }

    /// The matcher's input for the EventBridge/Lambda examples: their patterns, typed the way
    /// `sluice_config::filter` types checked patterns.
    fn typed(json: &Json) -> Pattern {
        let wrapped = format!("{{\"body\": {}}}", filter::render(json));
        let f = filter::compile(&json::parse(&wrapped).unwrap())
            .unwrap_or_else(|e| panic!("{wrapped}: {e:?}"));
        // Unwrap {"data": {"body": P}} back to P.
        let Field::Nested(data) = &f.pattern.fields[0].1 else {
            panic!()
        };
        let Field::Nested(body) = &data.fields[0].1 else {
            panic!()
        };
        body.clone()
    }

    fn event(text: &str) -> Json {
        json::parse(text).unwrap()
    }

    /// (pattern, event, matches): the examples of Lambda's filtering documentation, EventBridge's content
    /// filtering documentation and AWS's event-ruler, one per operator and rule.
    const CASES: &[(&str, &str, bool)] = &[
        // Null, empty, equals (Lambda's table).
        (r#"{"UserID": [null]}"#, r#"{"UserID": null}"#, true),
        (r#"{"UserID": [null]}"#, r#"{"UserID": "u1"}"#, false),
        (r#"{"UserID": [null]}"#, r#"{}"#, false),
        (r#"{"LastName": [""]}"#, r#"{"LastName": ""}"#, true),
        (r#"{"LastName": [""]}"#, r#"{"LastName": "Doe"}"#, false),
        (r#"{"Name": ["Alice"]}"#, r#"{"Name": "Alice"}"#, true),
        (r#"{"Name": ["Alice"]}"#, r#"{"Name": "alice"}"#, false),
        (r#"{"Name": ["Alice"]}"#, r#"{"Other": "Alice"}"#, false),
        (r#"{"flag": [true]}"#, r#"{"flag": true}"#, true),
        (r#"{"flag": [true]}"#, r#"{"flag": "true"}"#, false),
        // And, or.
        (
            r#"{"Location": ["New York"], "Day": ["Monday"]}"#,
            r#"{"Location": "New York", "Day": "Monday"}"#,
            true,
        ),
        (
            r#"{"Location": ["New York"], "Day": ["Monday"]}"#,
            r#"{"Location": "New York", "Day": "Tuesday"}"#,
            false,
        ),
        (
            r#"{"PaymentType": ["Credit", "Debit"]}"#,
            r#"{"PaymentType": "Debit"}"#,
            true,
        ),
        (
            r#"{"PaymentType": ["Credit", "Debit"]}"#,
            r#"{"PaymentType": "Cash"}"#,
            false,
        ),
        // Not (anything-but), its values and lists.
        (
            r#"{"Weather": [{"anything-but": ["Raining"]}]}"#,
            r#"{"Weather": "Sunny"}"#,
            true,
        ),
        (
            r#"{"Weather": [{"anything-but": ["Raining"]}]}"#,
            r#"{"Weather": "Raining"}"#,
            false,
        ),
        (
            r#"{"Weather": [{"anything-but": ["Raining"]}]}"#,
            r#"{}"#,
            false,
        ),
        (
            r#"{"state": [{"anything-but": "initializing"}]}"#,
            r#"{"state": "running"}"#,
            true,
        ),
        (
            r#"{"x-limit": [{"anything-but": 123}]}"#,
            r#"{"x-limit": 123}"#,
            false,
        ),
        (
            r#"{"x-limit": [{"anything-but": [100, 200, 300]}]}"#,
            r#"{"x-limit": 301.8}"#,
            true,
        ),
        (
            r#"{"x-limit": [{"anything-but": [100, 200, 300]}]}"#,
            r#"{"x-limit": 200}"#,
            false,
        ),
        // Numeric: by value, within the range, only on numbers.
        (
            r#"{"Price": [{"numeric": ["=", 100]}]}"#,
            r#"{"Price": 100}"#,
            true,
        ),
        (
            r#"{"Price": [{"numeric": ["=", 100]}]}"#,
            r#"{"Price": 100.0}"#,
            true,
        ),
        (
            r#"{"Price": [{"numeric": ["=", 100]}]}"#,
            r#"{"Price": "100"}"#,
            false,
        ),
        (
            r#"{"Price": [{"numeric": [">", 10, "<=", 20]}]}"#,
            r#"{"Price": 20}"#,
            true,
        ),
        (
            r#"{"Price": [{"numeric": [">", 10, "<=", 20]}]}"#,
            r#"{"Price": 10}"#,
            false,
        ),
        (
            r#"{"x-limit": [{"numeric": ["=", 3.018e2]}]}"#,
            r#"{"x-limit": 301.8}"#,
            true,
        ),
        (
            r#"{"d-count": [{"numeric": ["<", 10]}]}"#,
            r#"{"d-count": 3}"#,
            true,
        ),
        (r#"{"n": [{"numeric": [">", 0]}]}"#, r#"{"n": 6e9}"#, false),
        // Exact numbers compare by value within ±5e9 (as AWS answers, against Lambda's note), else by
        // their text.
        (r#"{"n": [300]}"#, r#"{"n": 300}"#, true),
        (r#"{"n": [300]}"#, r#"{"n": 300.0}"#, true),
        (r#"{"n": [300]}"#, r#"{"n": 3.0e2}"#, true),
        (r#"{"n": [300]}"#, r#"{"n": 300.5}"#, false),
        (r#"{"n": [6e9]}"#, r#"{"n": 6e9}"#, true),
        (r#"{"n": [6e9]}"#, r#"{"n": 6.0e9}"#, false),
        // Keys are paths, in the pattern and in the event; a path given twice keeps its last rules.
        (r#"{"a.b": ["x"]}"#, r#"{"a": {"b": "x"}}"#, true),
        (r#"{"a": {"b": ["x"]}}"#, r#"{"a.b": "x"}"#, true),
        (
            r#"{"a": {"b": ["x"]}}"#,
            r#"{"a": {"c": 1}, "a.b": "x"}"#,
            true,
        ),
        (
            r#"{"a": {"b": ["x"]}, "a.c": [1]}"#,
            r#"{"a": {"b": "x", "c": 1}}"#,
            true,
        ),
        (
            r#"{"a": {"b": ["x"]}, "a.c": [1]}"#,
            r#"{"a": {"b": "x", "c": 2}}"#,
            false,
        ),
        (r#"{"a": ["x"], "a": ["y"]}"#, r#"{"a": "y"}"#, true),
        (r#"{"a": ["x"], "a": ["y"]}"#, r#"{"a": "x"}"#, false),
        (
            r#"{"a": {"b": ["x"]}, "a": {"c": ["y"]}}"#,
            r#"{"a": {"b": "x", "c": "y"}}"#,
            true,
        ),
        (
            r#"{"a": {"b": ["x"]}, "a": {"c": ["y"]}}"#,
            r#"{"a": {"b": "z", "c": "y"}}"#,
            false,
        ),
        // Exists, on leaves only.
        (
            r#"{"ProductName": [{"exists": true}]}"#,
            r#"{"ProductName": "p"}"#,
            true,
        ),
        (r#"{"ProductName": [{"exists": true}]}"#, r#"{}"#, false),
        (r#"{"ProductName": [{"exists": false}]}"#, r#"{}"#, true),
        (
            r#"{"ProductName": [{"exists": false}]}"#,
            r#"{"ProductName": null}"#,
            false,
        ),
        (
            r#"{"detail": {"c-count": [{"exists": false}]}}"#,
            r#"{"detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}}"#,
            true,
        ),
        (r#"{"a": [{"exists": true}]}"#, r#"{"a": {"b": 1}}"#, false),
        // Prefix, suffix, equals-ignore-case, their case-insensitive forms.
        (
            r#"{"Region": [{"prefix": "us-"}]}"#,
            r#"{"Region": "us-east-1"}"#,
            true,
        ),
        (
            r#"{"Region": [{"prefix": "us-"}]}"#,
            r#"{"Region": "eu-west-1"}"#,
            false,
        ),
        (
            r#"{"Region": [{"prefix": "us-"}]}"#,
            r#"{"Region": 5}"#,
            false,
        ),
        (
            r#"{"Region": [{"prefix": {"equals-ignore-case": "US-"}}]}"#,
            r#"{"Region": "us-east-1"}"#,
            true,
        ),
        (
            r#"{"FileName": [{"suffix": ".png"}]}"#,
            r#"{"FileName": "a.png"}"#,
            true,
        ),
        (
            r#"{"FileName": [{"suffix": ".png"}]}"#,
            r#"{"FileName": "a.PNG"}"#,
            false,
        ),
        (
            r#"{"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}"#,
            r#"{"FileName": "a.PNG"}"#,
            true,
        ),
        (
            r#"{"source": [{"equals-ignore-case": "EC2"}]}"#,
            r#"{"source": "ec2"}"#,
            true,
        ),
        (
            r#"{"source": [{"equals-ignore-case": "EC2"}]}"#,
            r#"{"source": "ec22"}"#,
            false,
        ),
        // Arrays: the intersection; arrays of objects element by element (event-ruler's JSON array
        // matching).
        (
            r#"{"resources": ["arn:x"]}"#,
            r#"{"resources": ["arn:y", "arn:x"]}"#,
            true,
        ),
        (
            r#"{"resources": ["arn:x"]}"#,
            r#"{"resources": ["arn:y"]}"#,
            false,
        ),
        (
            r#"{"employees": {"firstName": ["Anna"]}}"#,
            r#"{"employees": [{"firstName": "John"}, {"firstName": "Anna"}]}"#,
            true,
        ),
        (
            r#"{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}"#,
            r#"{"employees": [{"firstName": "Anna", "lastName": "Smith"}, {"firstName": "Peter", "lastName": "Jones"}]}"#,
            false,
        ),
        (
            r#"{"employees": {"firstName": ["Anna"]}}"#,
            r#"{"employees": [[{"firstName": "John"}, {"firstName": "Anna"}], [{"firstName": "Peter"}]]}"#,
            true,
        ),
        // Nested objects and $or (event-ruler's examples).
        (
            r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#,
            r#"{"source": "aws.cloudwatch", "namespace": "AWS/EC2"}"#,
            true,
        ),
        (
            r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}"#,
            r#"{"source": "aws.cloudwatch", "namespace": "AWS/S3"}"#,
            false,
        ),
        (
            r#"{"$or": [{"metricName": ["A"]}, {"metricType": ["T"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}]}"#,
            r#"{"metricType": "T", "spaceId": 1000}"#,
            true,
        ),
        (
            r#"{"$or": [{"metricName": ["A"]}, {"metricType": ["T"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}]}"#,
            r#"{"metricType": "T", "spaceId": 1001}"#,
            false,
        ),
        (
            r#"{"detail": {"state": ["running"], "c-count": [{"numeric": [">", 0, "<=", 5]}]}}"#,
            r#"{"detail": {"state": "running", "c-count": 5}}"#,
            true,
        ),
    ];

    #[test]
    fn every_operator_matches_as_aws_documents() {
        for (pattern, e, expected) in CASES {
            assert_eq!(
                matches(&aws(pattern), &event(e)),
                *expected,
                "pattern {pattern} on {e}"
            );
        }
    }

    fn sluice_filter(pattern: &str) -> EventFilter {
        filter::compile(&json::parse(pattern).unwrap()).unwrap()
    }

    fn envelope(body: &str) -> Vec<u8> {
        sluice_contract::envelope::encode(&sluice_contract::envelope::Received {
            received_at_ms: 1,
            request_id: "r",
            source_ip: "10.1.2.3",
            body,
        })
    }

    #[test]
    fn records_are_matched_on_their_envelope_and_partition_key() {
        let kind = sluice_filter(r#"{"body": {"kind": ["order"]}}"#);
        let vip = sluice_filter(r#"{"partitionKey": [{"prefix": "vip-"}]}"#);
        let internal = sluice_filter(r#"{"sourceIp": [{"prefix": "10."}]}"#);
        assert!(delivers(&[], "k", b"not json"));
        assert!(delivers(
            std::slice::from_ref(&kind),
            "k",
            &envelope(r#"{"kind":"order"}"#)
        ));
        assert!(!delivers(
            std::slice::from_ref(&kind),
            "k",
            &envelope(r#"{"kind":"refund"}"#)
        ));
        // One filter of several is enough.
        let both = [kind.clone(), vip.clone()];
        assert!(delivers(&both, "vip-1", &envelope(r#"{"kind":"refund"}"#)));
        assert!(!delivers(&both, "k-1", &envelope(r#"{"kind":"refund"}"#)));
        assert!(delivers(&[internal], "k", &envelope("{}")));
        // Data that is not JSON: a pattern on data drops the record; one on the partition key alone still
        // matches.
        assert!(!delivers(&[kind], "vip-1", b"\xff not json"));
        assert!(delivers(
            std::slice::from_ref(&vip),
            "vip-1",
            b"\xff not json"
        ));
        assert!(!delivers(&[vip], "k-1", b"\xff not json"));
    }
}
