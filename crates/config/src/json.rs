//! JSON with positions, for what `pipeline.toml` holds as JSON (request schemas, event filter patterns) and
//! what the local event source mapping filters on (record data): every value keeps its byte range, so a
//! check can point at the member that is wrong, and every number keeps its text as written (AWS's event
//! filters compare numbers by their text: `300`, `300.0` and `3.0e2` are different values). Members keep
//! their order and duplicates (the checks refuse duplicates; [`Json::get`] takes the last, as serde_json and
//! Jackson do).
//!
//! [`toml_string_offsets`] maps a position inside a TOML string's text back to `pipeline.toml`, so JSON
//! written inside a TOML string is located in the file too.

use std::ops::Range;

use serde_json::Value;

/// A JSON value and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Json {
    pub span: Range<usize>,
    pub value: JsonValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    /// The number's text, as written.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<Member>),
}

/// An object member and where its name is.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: String,
    pub key_span: Range<usize>,
    pub value: Json,
}

/// Why a text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

/// Nesting deeper than this is refused (no stack is exhausted by hostile input).
pub const MAX_DEPTH: usize = 128;

/// Parses one JSON text (RFC 8259; whitespace around it allowed).
pub fn parse(text: &str) -> Result<Json, ParseError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    p.ws();
    let value = p.value(0)?;
    p.ws();
    if p.at < p.bytes.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            offset: self.at,
            message: message.into(),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let start = self.at;
        let value = match self.bytes.get(self.at) {
            None => return Err(self.error("expected a JSON value, found the end")),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => JsonValue::String(self.string()?),
            Some(b't') => self.literal("true", JsonValue::Bool(true))?,
            Some(b'f') => self.literal("false", JsonValue::Bool(false))?,
            Some(b'n') => self.literal("null", JsonValue::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => {
                let c = self.text[self.at..].chars().next().unwrap_or(' ');
                return Err(self.error(format!("expected a JSON value, found {c:?}")));
            }
        };
        Ok(Json {
            span: start..self.at,
            value,
        })
    }

    fn literal(&mut self, word: &str, value: JsonValue) -> Result<JsonValue, ParseError> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error(format!("expected `{word}`")))
        }
    }

    fn number(&mut self) -> Result<JsonValue, ParseError> {
        let start = self.at;
        let digits = |p: &mut Parser<'_>| {
            let from = p.at;
            while let Some(b'0'..=b'9') = p.bytes.get(p.at) {
                p.at += 1;
            }
            p.at > from
        };
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        if self.bytes.get(self.at) == Some(&b'0') {
            self.at += 1;
        } else if !digits(self) {
            return Err(self.error("a number needs digits"));
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if !digits(self) {
                return Err(self.error("a number needs digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if !digits(self) {
                return Err(self.error("a number needs digits in its exponent"));
            }
        }
        Ok(JsonValue::Number(self.text[start..self.at].to_string()))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let hex = self
            .text
            .get(self.at..self.at + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("\\u needs four hex digits"))?;
        self.at += 4;
        u32::from_str_radix(hex, 16).map_err(|_| self.error("\\u needs four hex digits"))
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        loop {
            let Some(c) = self.text[self.at..].chars().next() else {
                return Err(self.error("unterminated string"));
            };
            match c {
                '"' => {
                    self.at += 1;
                    return Ok(out);
                }
                '\\' => {
                    self.at += 1;
                    let escaped = self.bytes.get(self.at).copied();
                    self.at += 1;
                    match escaped {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let first = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&first) {
                                if !self.text[self.at..].starts_with("\\u") {
                                    return Err(self.error("a lone high surrogate"));
                                }
                                self.at += 2;
                                let second = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&second) {
                                    return Err(self.error("a high surrogate without its low one"));
                                }
                                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                            } else {
                                first
                            };
                            out.push(
                                char::from_u32(code)
                                    .ok_or_else(|| self.error("a lone low surrogate"))?,
                            );
                        }
                        _ => {
                            self.at -= 1;
                            return Err(self.error("invalid escape"));
                        }
                    }
                }
                c if (c as u32) < 0x20 => {
                    return Err(self.error("a control character inside a string must be escaped"));
                }
                c => {
                    out.push(c);
                    self.at += c.len_utf8();
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<JsonValue, ParseError> {
        self.at += 1;
        let mut items = Vec::new();
        self.ws();
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(JsonValue::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(JsonValue::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<JsonValue, ParseError> {
        self.at += 1;
        let mut members = Vec::new();
        self.ws();
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(JsonValue::Object(members));
        }
        loop {
            self.ws();
            if self.bytes.get(self.at) != Some(&b'"') {
                return Err(self.error("expected a member name in double quotes"));
            }
            let key_start = self.at;
            let key = self.string()?;
            let key_span = key_start..self.at;
            self.ws();
            if self.bytes.get(self.at) != Some(&b':') {
                return Err(self.error("expected ':' after the member name"));
            }
            self.at += 1;
            self.ws();
            let value = self.value(depth + 1)?;
            members.push(Member {
                key,
                key_span,
                value,
            });
            self.ws();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(JsonValue::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }
}

impl Json {
    /// The member `key` of an object (the last one, if it is there twice).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match &self.value {
            JsonValue::Object(members) => members
                .iter()
                .rev()
                .find(|m| m.key == key)
                .map(|m| &m.value),
            _ => None,
        }
    }

    /// The members of an object (empty for anything else).
    pub fn members(&self) -> &[Member] {
        match &self.value {
            JsonValue::Object(members) => members,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            JsonValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// A number's value as an `f64` (its text as written is in [`JsonValue::Number`]).
    pub fn as_f64(&self) -> Option<f64> {
        match &self.value {
            JsonValue::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    /// The JSON type, as a word for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            JsonValue::Null => "null",
            JsonValue::Bool(_) => "boolean",
            JsonValue::Number(_) => "number",
            JsonValue::String(_) => "string",
            JsonValue::Array(_) => "array",
            JsonValue::Object(_) => "object",
        }
    }

    /// As a `serde_json::Value` (duplicate members: the last wins).
    pub fn to_value(&self) -> Value {
        match &self.value {
            JsonValue::Null => Value::Null,
            JsonValue::Bool(b) => Value::Bool(*b),
            JsonValue::Number(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            JsonValue::String(s) => Value::String(s.clone()),
            JsonValue::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            JsonValue::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|m| (m.key.clone(), m.value.to_value()))
                    .collect(),
            ),
        }
    }
}

/// For the TOML string literal at `span` of `src` (quotes included): the source offset of each byte of the
/// string's value, plus one for its end. `None` if `span` is not a string literal.
pub fn toml_string_offsets(src: &str, span: &Range<usize>) -> Option<Vec<usize>> {
    let literal = src.get(span.clone())?;
    let (quote, multi) = if literal.starts_with("\"\"\"") {
        ('"', true)
    } else if literal.starts_with("'''") {
        ('\'', true)
    } else if literal.starts_with('"') {
        ('"', false)
    } else if literal.starts_with('\'') {
        ('\'', false)
    } else {
        return None;
    };
    let open = if multi { 3 } else { 1 };
    let close = span.end.checked_sub(open)?;
    let mut at = span.start + open;
    if multi {
        // A newline right after the opening delimiter is not part of the value.
        if src[at..].starts_with("\r\n") {
            at += 2;
        } else if src[at..].starts_with('\n') {
            at += 1;
        }
    }
    let mut out = Vec::new();
    let push = |out: &mut Vec<usize>, c: char, from: usize| {
        for _ in 0..c.len_utf8() {
            out.push(from);
        }
    };
    while at < close {
        let c = src[at..].chars().next()?;
        if quote == '\'' || c != '\\' {
            push(&mut out, c, at);
            at += c.len_utf8();
            continue;
        }
        let from = at;
        let next = src[at + 1..].chars().next()?;
        let (decoded, len) = match next {
            'b' => (Some('\u{8}'), 2),
            't' => (Some('\t'), 2),
            'n' => (Some('\n'), 2),
            'f' => (Some('\u{c}'), 2),
            'r' => (Some('\r'), 2),
            'e' => (Some('\u{1b}'), 2),
            '"' => (Some('"'), 2),
            '\\' => (Some('\\'), 2),
            'x' => (
                u32::from_str_radix(src.get(at + 2..at + 4)?, 16)
                    .ok()
                    .and_then(char::from_u32),
                4,
            ),
            'u' => (
                u32::from_str_radix(src.get(at + 2..at + 6)?, 16)
                    .ok()
                    .and_then(char::from_u32),
                6,
            ),
            'U' => (
                u32::from_str_radix(src.get(at + 2..at + 10)?, 16)
                    .ok()
                    .and_then(char::from_u32),
                10,
            ),
            c if multi && (c == '\n' || c == ' ' || c == '\t' || c == '\r') => {
                // A line-ending backslash: the whitespace and newlines that follow are not part of the value.
                at += 1;
                while let Some(w @ (' ' | '\t' | '\n' | '\r')) = src[at..].chars().next() {
                    at += w.len_utf8();
                }
                continue;
            }
            _ => return None,
        };
        push(&mut out, decoded?, from);
        at += len;
    }
    out.push(close);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_spans_and_numbers_their_text() {
        let text = r#" {"a": [1, 2.50, -3e2], "b": {"c": null}, "s": "x\"\u00e9\ud83d\ude00"} "#;
        let json = parse(text).unwrap();
        assert_eq!(&text[json.span.clone()], text.trim());
        let a = json.get("a").unwrap();
        let JsonValue::Array(items) = &a.value else {
            panic!()
        };
        assert_eq!(items[1].value, JsonValue::Number("2.50".into()));
        assert_eq!(&text[items[2].span.clone()], "-3e2");
        assert_eq!(json.get("s").unwrap().as_str(), Some("x\"é😀"));
        assert_eq!(&text[json.members()[1].key_span.clone()], "\"b\"");
        assert_eq!(
            json.to_value(),
            serde_json::json!({"a": [1, 2.5, -300.0], "b": {"c": null}, "s": "x\"é😀"})
        );
    }

    #[test]
    fn bad_json_is_located() {
        for (text, offset) in [
            ("{\"a\" 1}", 5),
            ("[1,]", 3),
            ("{\"a\":01}", 6),
            ("\"\\x\"", 2),
            ("[1] x", 4),
            ("", 0),
            ("{\"a\":\"\n\"}", 6),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.offset, offset, "{text:?}: {e:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 2);
        assert!(parse(&deep).unwrap_err().message.contains("deeper"));
    }

    #[test]
    fn duplicates_are_kept_and_the_last_is_read() {
        let json = parse(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(json.members().len(), 2);
        assert_eq!(json.get("a").unwrap().as_f64(), Some(2.0));
    }

    #[test]
    fn toml_string_positions_map_back_to_the_file() {
        let src = "k = \"a\\\"b\\u00e9c\"\nm = '''\n{\"x\": 1}'''\n";
        let start = src.find('"').unwrap();
        let end = src.find('\n').unwrap();
        let map = toml_string_offsets(src, &(start..end)).unwrap();
        // a " b é c: the é is two bytes, both at its escape.
        assert_eq!(map.len(), "a\"béc".len() + 1);
        assert_eq!(&src[map[1]..map[1] + 2], "\\\"");
        assert_eq!(&src[map[3]..map[3] + 6], "\\u00e9");
        assert_eq!(map[4], map[3]);
        assert_eq!(src.as_bytes()[map[5]], b'c');
        let start = src.find("'''").unwrap();
        let end = src.rfind("'''").unwrap() + 3;
        let map = toml_string_offsets(src, &(start..end)).unwrap();
        assert_eq!(
            src.as_bytes()[map[0]],
            b'{',
            "the newline after ''' is not part of the value"
        );
        assert_eq!(*map.last().unwrap(), end - 3);
    }
}
