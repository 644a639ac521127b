//! The record contract's envelope: what the gateway puts into a Kinesis record's data for a request.
//!
//! ```json
//! {"v":1,"body":{…},"receivedAt":1732752000123,"requestId":"c0ffee…","sourceIp":"203.0.113.9"}
//! ```
//!
//! [`LAYOUT`] is the one definition of its members and their order: [`encode`] (the local gateway) writes
//! it, the generator renders the API Gateway mapping template from it, and [`decode`] (the writer) reads it.
//! The body is inserted byte for byte as sent, never re-serialised, exactly as the mapping template's
//! `$input.body` is.
//!
//! **Forging.** On AWS the body is whatever API Gateway's request validator let through, inserted raw, so
//! a body such as `{},"requestId":"mine"` would add members to the envelope. Two rules make that useless:
//! the gateway's own members come *after* the body (so a last-one-wins JSON reader still sees the
//! gateway's values), and [`decode`] refuses an envelope with a member twice or a member it does not know
//! ([`Reason::ForgedEnvelope`]). It reads the members in any order, so records written with the body last
//! (before this order) still decode.

use serde_json::{Map, Value};

use crate::consumer::{Permanent, Reason};

/// The envelope version written into [`member::VERSION`].
pub const VERSION: u32 = 1;

/// The envelope's member names.
pub mod member {
    pub const VERSION: &str = "v";
    pub const RECEIVED_AT: &str = "receivedAt";
    pub const REQUEST_ID: &str = "requestId";
    pub const SOURCE_IP: &str = "sourceIp";
    pub const BODY: &str = "body";
}

/// One member of the envelope: what fills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// [`VERSION`], a number.
    Version,
    /// Milliseconds since the epoch when the gateway received the request, a number
    /// (`$context.requestTimeEpoch` on AWS).
    ReceivedAt,
    /// The gateway's request id, a string (`$context.requestId`).
    RequestId,
    /// The caller's IP address, a string (`$context.identity.sourceIp`).
    SourceIp,
    /// The request body, raw JSON as sent (`$input.body`).
    Body,
}

/// How a member's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A JSON number, written as its digits.
    Number,
    /// A JSON string, quoted and escaped.
    String,
    /// JSON text inserted as it is.
    Raw,
}

impl Field {
    /// The member name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Version => member::VERSION,
            Field::ReceivedAt => member::RECEIVED_AT,
            Field::RequestId => member::REQUEST_ID,
            Field::SourceIp => member::SOURCE_IP,
            Field::Body => member::BODY,
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Field::Version | Field::ReceivedAt => Kind::Number,
            Field::RequestId | Field::SourceIp => Kind::String,
            Field::Body => Kind::Raw,
        }
    }
}

/// The members in the order they are written: the version, the body, then the members the gateway fills
/// (after the body, so that nothing the body smuggles in comes after them).
pub const LAYOUT: [Field; 5] = [
    Field::Version,
    Field::Body,
    Field::ReceivedAt,
    Field::RequestId,
    Field::SourceIp,
];

/// What the gateway knows of a request when it builds the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    pub received_at_ms: i64,
    pub request_id: &'a str,
    pub source_ip: &'a str,
    /// Must already be known to be a JSON object; inserted byte for byte.
    pub body: &'a str,
}

/// The record's data for a request: the members of [`LAYOUT`], in its order.
pub fn encode(received: &Received<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(received.body.len() + 160);
    out.push(b'{');
    for (i, field) in LAYOUT.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(json_string(field.name()).as_bytes());
        out.push(b':');
        match field {
            Field::Version => out.extend_from_slice(VERSION.to_string().as_bytes()),
            Field::ReceivedAt => {
                out.extend_from_slice(received.received_at_ms.to_string().as_bytes());
            }
            Field::RequestId => out.extend_from_slice(json_string(received.request_id).as_bytes()),
            Field::SourceIp => out.extend_from_slice(json_string(received.source_ip).as_bytes()),
            Field::Body => out.extend_from_slice(received.body.as_bytes()),
        }
    }
    out.push(b'}');
    out
}

/// A JSON string literal (serde_json escapes it right; a `&str` always serialises).
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// The envelope, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub received_at: Option<Value>,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    pub body: Map<String, Value>,
}

/// Decodes a record's data: UTF-8 JSON, an object with the version [`VERSION`] and an object body;
/// `receivedAt` (number), `requestId` and `sourceIp` (strings) are taken when present and must then have
/// those types. A member present twice, or one the envelope does not have, is [`Reason::ForgedEnvelope`].
/// Anything else is a [`Permanent`] failure with the reason that names it. The members may come in any
/// order.
pub fn decode(data: &[u8]) -> Result<Envelope, Permanent> {
    let top: Top = serde_json::from_slice(data).map_err(|e| {
        Permanent::new(
            Reason::NotJson,
            format!("record data is not UTF-8 JSON: {e}"),
        )
    })?;
    let members = match top {
        Top::Object(members) => members,
        Top::Other(kind) => {
            return Err(Permanent::new(
                Reason::NotAnEnvelope,
                format!("record data is a JSON {kind}, not an object"),
            ));
        }
    };
    if !members.iter().any(|(name, _)| name == member::VERSION) {
        return Err(Permanent::new(
            Reason::NotAnEnvelope,
            format!("the object has no envelope version {:?}", member::VERSION),
        ));
    }
    let mut fields: [Option<Value>; LAYOUT.len()] = Default::default();
    let mut unknown: Option<String> = None;
    for (name, value) in members {
        let Some(index) = LAYOUT.iter().position(|f| f.name() == name) else {
            unknown.get_or_insert(name);
            continue;
        };
        if fields[index].is_some() {
            return Err(Permanent::new(
                Reason::ForgedEnvelope,
                format!("the envelope has the member {name:?} more than once"),
            ));
        }
        fields[index] = Some(value);
    }
    let mut take = |field: Field| {
        LAYOUT
            .iter()
            .position(|f| *f == field)
            .and_then(|i| fields[i].take())
    };
    match take(Field::Version) {
        Some(v) if v.as_u64() == Some(u64::from(VERSION)) => {}
        other => {
            return Err(Permanent::new(
                Reason::NotAnEnvelope,
                format!(
                    "unsupported envelope version {} (this writer reads version {VERSION})",
                    other.unwrap_or(Value::Null)
                ),
            ));
        }
    }
    if let Some(name) = unknown {
        return Err(Permanent::new(
            Reason::ForgedEnvelope,
            format!("the envelope has a member {name:?}, which is not one of its members"),
        ));
    }
    let body = match take(Field::Body) {
        Some(Value::Object(body)) => body,
        Some(other) => {
            return Err(Permanent::new(
                Reason::BodyNotAnObject,
                format!(
                    "the envelope's body is a {}, not an object",
                    json_type(&other)
                ),
            ));
        }
        None => {
            return Err(Permanent::new(
                Reason::NotAnEnvelope,
                format!("the envelope has no {:?}", member::BODY),
            ));
        }
    };
    let received_at = match take(Field::ReceivedAt) {
        None => None,
        Some(v @ Value::Number(_)) => Some(v),
        Some(other) => return Err(wrong_member(member::RECEIVED_AT, "number", &other)),
    };
    let mut string_member = |field: Field| match take(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_member(field.name(), "string", &other)),
    };
    let request_id = string_member(Field::RequestId)?;
    let source_ip = string_member(Field::SourceIp)?;
    Ok(Envelope {
        received_at,
        request_id,
        source_ip,
        body,
    })
}

/// A JSON document's top level as written: an object's members in order, duplicates kept (serde_json's
/// `Map` would keep only the last of a duplicated name, silently), or the kind of anything else.
enum Top {
    Object(Vec<(String, Value)>),
    Other(&'static str),
}

impl<'de> serde::Deserialize<'de> for Top {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> serde::de::Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut members = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            members.push(entry);
        }
        Ok(Top::Object(members))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Top::Other("array"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Top, E> {
        Ok(Top::Other("string"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
        Ok(Top::Other("boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
        Ok(Top::Other("number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
        Ok(Top::Other("number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
        Ok(Top::Other("number"))
    }

    fn visit_unit<E>(self) -> Result<Top, E> {
        Ok(Top::Other("null"))
    }
}

fn wrong_member(name: &str, expected: &str, got: &Value) -> Permanent {
    Permanent::new(
        Reason::NotAnEnvelope,
        format!(
            "envelope member {name:?} is a {}, not a {expected}",
            json_type(got)
        ),
    )
}

/// The JSON type of a value, as a word for messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(body: &str) -> Received<'_> {
        Received {
            received_at_ms: 1_732_752_000_123,
            request_id: "req-1",
            source_ip: "127.0.0.1",
            body,
        }
    }

    #[test]
    fn encode_keeps_the_body_byte_for_byte() {
        let body = "{\"a\" : \"q\\\"uote \\\\ back\\nslash $x #y \\u00e9 é\", \"n\": 1.50}";
        let text = String::from_utf8(encode(&received(body))).unwrap();
        assert_eq!(
            text,
            format!(
                "{{\"v\":1,\"body\":{body},\"receivedAt\":1732752000123,\"requestId\":\"req-1\",\"sourceIp\":\"127.0.0.1\"}}"
            )
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["body"]["a"], "q\"uote \\ back\nslash $x #y é é");
    }

    #[test]
    fn decode_reads_what_encode_writes() {
        let data = encode(&received("{\"x\":[1,2]}"));
        let envelope = decode(&data).unwrap();
        assert_eq!(envelope.request_id.as_deref(), Some("req-1"));
        assert_eq!(envelope.source_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            envelope.received_at,
            Some(Value::from(1_732_752_000_123i64))
        );
        assert_eq!(envelope.body["x"], serde_json::json!([1, 2]));
    }

    #[test]
    fn the_gateway_members_come_after_the_body() {
        let body_at = LAYOUT.iter().position(|f| *f == Field::Body).unwrap();
        for field in [Field::ReceivedAt, Field::RequestId, Field::SourceIp] {
            assert!(
                LAYOUT.iter().position(|f| *f == field).unwrap() > body_at,
                "{field:?}"
            );
        }
    }

    #[test]
    fn records_in_the_old_member_order_still_decode() {
        let old = r#"{"v":1,"receivedAt":1732752000123,"requestId":"req-1","sourceIp":"127.0.0.1","body":{"x":[1,2]}}"#;
        assert_eq!(
            decode(old.as_bytes()).unwrap(),
            decode(&encode(&received("{\"x\":[1,2]}"))).unwrap()
        );
    }

    #[test]
    fn a_body_that_adds_envelope_members_is_refused() {
        // What a raw insertion of these bodies makes of the envelope, in the new order and the old one.
        let smuggled = [
            r#"{},"requestId":"forged""#,
            r#"{},"receivedAt":1"#,
            r#"{"a":1},"sourceIp":"10.0.0.1","x":{"#,
            r#"{},"v":1"#,
            r#"{},"body":{"evil":true}"#,
            r#"{},"extra":1"#,
        ];
        for body in smuggled {
            let new = encode(&received(body));
            let old = format!(
                r#"{{"v":1,"receivedAt":1732752000123,"requestId":"req-1","sourceIp":"127.0.0.1","body":{body}}}"#
            );
            for data in [new, old.into_bytes()] {
                let text = String::from_utf8_lossy(&data).into_owned();
                match decode(&data) {
                    Ok(envelope) => panic!("decoded {text} as {envelope:?}"),
                    Err(e) => assert!(
                        matches!(e.reason, Reason::ForgedEnvelope | Reason::NotJson),
                        "{text}: {e}"
                    ),
                }
            }
        }
        let twice = decode(br#"{"v":1,"body":{},"requestId":"a","requestId":"b"}"#).unwrap_err();
        assert_eq!(twice.reason, Reason::ForgedEnvelope);
        assert!(twice.detail.contains("\"requestId\""), "{twice}");
        let unknown = decode(br#"{"v":1,"body":{},"admin":true}"#).unwrap_err();
        assert_eq!(unknown.reason, Reason::ForgedEnvelope);
        assert!(unknown.detail.contains("\"admin\""), "{unknown}");
        // A duplicate inside the body is the body's business, not the envelope's.
        let inner = decode(br#"{"v":1,"body":{"a":1,"a":2}}"#).unwrap();
        assert_eq!(inner.body["a"], 2);
    }

    #[test]
    fn decode_names_what_is_wrong() {
        let reason = |data: &str| decode(data.as_bytes()).unwrap_err().reason;
        assert_eq!(reason("{"), Reason::NotJson);
        assert_eq!(reason("[1]"), Reason::NotAnEnvelope);
        assert_eq!(reason("{\"body\":{}}"), Reason::NotAnEnvelope);
        assert_eq!(reason("{\"v\":2,\"body\":{}}"), Reason::NotAnEnvelope);
        assert_eq!(
            reason("{\"v\":2,\"body\":{},\"future\":1}"),
            Reason::NotAnEnvelope,
            "another version is unsupported, not forged"
        );
        assert_eq!(reason("{\"a\":1}"), Reason::NotAnEnvelope);
        assert_eq!(reason("\"text\""), Reason::NotAnEnvelope);
        assert_eq!(reason("null"), Reason::NotAnEnvelope);
        assert_eq!(reason("{} {}"), Reason::NotJson);
        assert_eq!(reason("{\"v\":1}"), Reason::NotAnEnvelope);
        assert_eq!(reason("{\"v\":1,\"body\":[]}"), Reason::BodyNotAnObject);
        assert_eq!(
            reason("{\"v\":1,\"body\":{},\"requestId\":5}"),
            Reason::NotAnEnvelope
        );
        assert_eq!(
            reason("{\"v\":1,\"body\":{},\"receivedAt\":\"x\"}"),
            Reason::NotAnEnvelope
        );
    }
}
