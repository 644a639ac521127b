//! JSON as fge's validator reads it (Jackson with fge's settings): numbers keep what Jackson keeps of them
//! (an integer literal is an integer of any width; any other literal is a `BigDecimal` with its trailing zeros
//! stripped, `0` for zero), objects keep their members' order (a member given twice keeps its first place and
//! its last value), and values print as Jackson's `JsonNode.toString` prints them.

use std::cmp::Ordering;

use num_bigint::BigInt;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Num(Num),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

/// A number: `neg`, `digits` (no leading zeros; `"0"` for zero) and `scale` (value = digits × 10^-scale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Num {
    neg: bool,
    digits: String,
    scale: i64,
    /// An integer literal (Jackson's int, long or BigInteger node): draft 4's `integer`.
    integral: bool,
}

impl Num {
    fn new(neg: bool, digits: &str, scale: i64, integral: bool) -> Num {
        let mut digits = digits.trim_start_matches('0').to_string();
        let mut scale = scale;
        if digits.is_empty() {
            return Num {
                neg: false,
                digits: "0".into(),
                scale: 0,
                integral,
            };
        }
        if !integral {
            while digits.len() > 1 && digits.ends_with('0') {
                digits.pop();
                scale -= 1;
            }
        }
        Num {
            neg,
            digits,
            scale,
            integral,
        }
    }

    /// Whether the literal was an integer (draft 4's `integer` type).
    pub fn is_integral(&self) -> bool {
        self.integral
    }

    pub fn is_zero(&self) -> bool {
        self.digits == "0"
    }

    pub fn is_negative(&self) -> bool {
        self.neg
    }

    /// A whole value that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        if self.scale > 0 {
            return None;
        }
        let (_, int) = self.to_scaled(0);
        i64::try_from(int).ok()
    }

    /// The value as an integer at `scale` (exact when `scale >= self.scale`).
    fn to_scaled(&self, scale: i64) -> (i64, BigInt) {
        let mut n: BigInt = self.digits.parse().unwrap_or_default();
        if scale > self.scale {
            n *= BigInt::from(10u8).pow((scale - self.scale) as u32);
        }
        if self.neg {
            n = -n;
        }
        (scale, n)
    }

    /// Numeric comparison (Java's `BigDecimal.compareTo`).
    pub fn cmp_value(&self, other: &Num) -> Ordering {
        let s = self.scale.max(other.scale);
        self.to_scaled(s).1.cmp(&other.to_scaled(s).1)
    }

    /// Whether `self` is a multiple of `divisor` (a remainder of zero).
    pub fn is_multiple_of(&self, divisor: &Num) -> bool {
        let s = self.scale.max(divisor.scale);
        let d = divisor.to_scaled(s).1;
        if d == BigInt::default() {
            return false;
        }
        self.to_scaled(s).1 % d == BigInt::default()
    }

    /// Whether the value is whole (Java: `remainder(ONE) == 0`).
    fn is_whole(&self) -> bool {
        self.scale <= 0 || self.is_zero()
    }

    /// How fge's digest keeps a schema's limit: a whole value that fits a `long` as that integer, a
    /// `BigDecimal` of scale 0 as a BigInteger, anything else as read.
    pub fn as_limit(&self) -> Num {
        if self.integral || (self.is_whole() && (self.as_i64().is_some() || self.scale == 0)) {
            let (_, n) = self.to_scaled(0);
            let text = n.magnitude().to_string();
            return Num::new(self.neg, &text, 0, true);
        }
        self.clone()
    }
}

impl std::fmt::Display for Num {
    /// Jackson: integers as digits, decimals as Java's `BigDecimal.toString`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.neg { "-" } else { "" };
        if self.integral || self.scale == 0 {
            return write!(f, "{sign}{}", self.digits);
        }
        let len = self.digits.len() as i64;
        let adjusted = len - 1 - self.scale;
        if self.scale > 0 && adjusted >= -6 {
            if self.scale >= len {
                let zeros = "0".repeat((self.scale - len) as usize);
                return write!(f, "{sign}0.{zeros}{}", self.digits);
            }
            let (int, frac) = self.digits.split_at((len - self.scale) as usize);
            return write!(f, "{sign}{int}.{frac}");
        }
        let (first, rest) = self.digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if adjusted > 0 { "+" } else { "" };
        write!(f, "{sign}{first}{dot}{rest}E{exp_sign}{adjusted}")
    }
}

impl Node {
    /// Draft 4's name of the value's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "boolean",
            Node::Num(n) if n.is_integral() => "integer",
            Node::Num(_) => "number",
            Node::Str(_) => "string",
            Node::Arr(_) => "array",
            Node::Obj(_) => "object",
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Obj(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// fge's equivalence (enum, uniqueItems): numbers by value, objects by members whatever their order.
    pub fn equivalent(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Num(a), Node::Num(b)) => a.cmp_value(b) == Ordering::Equal,
            (Node::Arr(a), Node::Arr(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equivalent(y))
            }
            (Node::Obj(a), Node::Obj(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| other.get(k).is_some_and(|w| v.equivalent(w)))
            }
            _ => self == other,
        }
    }

    /// fge's hash of a value (`JsonNumEquals.hash`), which its `uniqueItems` set uses before equivalence:
    /// an object's hash depends on its members' order, so objects listing the same members in another order
    /// are usually (not always) distinct there.
    pub fn java_hash(&self) -> i32 {
        match self {
            Node::Null => 4,
            Node::Bool(true) => 3,
            Node::Bool(false) => 1,
            Node::Num(n) => {
                let d: f64 = n.to_string().parse().unwrap_or(0.0);
                let bits = if d == 0.0 { 0u64 } else { d.to_bits() };
                (bits ^ (bits >> 32)) as i32
            }
            Node::Str(s) => string_hash(s),
            Node::Arr(items) => items
                .iter()
                .fold(0i32, |h, i| h.wrapping_mul(31).wrapping_add(i.java_hash())),
            Node::Obj(members) => members.iter().fold(0i32, |h, (k, v)| {
                h.wrapping_mul(31)
                    .wrapping_add(string_hash(k) ^ v.java_hash())
            }),
        }
    }
}

impl std::fmt::Display for Node {
    /// Jackson's `JsonNode.toString`: compact JSON, non-ASCII as is, control characters escaped.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Null => f.write_str("null"),
            Node::Bool(b) => write!(f, "{b}"),
            Node::Num(n) => write!(f, "{n}"),
            Node::Str(s) => write_string(f, s),
            Node::Arr(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Node::Obj(members) => {
                f.write_str("{")?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_string(f, k)?;
                    write!(f, ":{v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

fn write_string(f: &mut std::fmt::Formatter<'_>, s: &str) -> std::fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04X}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// Java's `String.hashCode`.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// Java's `String.compareTo`: by UTF-16 code units.
pub fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Parses JSON text as Jackson does with fge's settings; `None` when it is not JSON.
pub fn parse(text: &str) -> Option<Node> {
    let mut p = Parser {
        t: text,
        s: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    p.ws();
    let v = p.value()?;
    p.ws();
    (p.at == p.s.len()).then_some(v)
}

struct Parser<'a> {
    t: &'a str,
    s: &'a [u8],
    at: usize,
    depth: usize,
}

/// Deeper than this is refused (Jackson's default nesting limit is 1000).
const MAX_DEPTH: usize = 1000;

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.s.get(self.at) == Some(&b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &str, v: Node) -> Option<Node> {
        if self.s[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Some(v)
        } else {
            None
        }
    }

    fn value(&mut self) -> Option<Node> {
        self.ws();
        match *self.s.get(self.at)? {
            b'n' => self.literal("null", Node::Null),
            b't' => self.literal("true", Node::Bool(true)),
            b'f' => self.literal("false", Node::Bool(false)),
            b'"' => self.string().map(Node::Str),
            b'[' => {
                self.nest()?;
                self.at += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value()?);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                    }
                }
                self.depth -= 1;
                Some(Node::Arr(items))
            }
            b'{' => {
                self.nest()?;
                self.at += 1;
                let mut members: Vec<(String, Node)> = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        if self.s.get(self.at) != Some(&b'"') {
                            return None;
                        }
                        let key = self.string()?;
                        if !self.eat(b':') {
                            return None;
                        }
                        let v = self.value()?;
                        match members.iter_mut().find(|(k, _)| *k == key) {
                            Some(m) => m.1 = v,
                            None => members.push((key, v)),
                        }
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                    }
                }
                self.depth -= 1;
                Some(Node::Obj(members))
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn digits(&mut self) -> &str {
        let start = self.at;
        while self.s.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        std::str::from_utf8(&self.s[start..self.at]).unwrap_or_default()
    }

    fn number(&mut self) -> Option<Node> {
        let neg = self.s[self.at] == b'-';
        if neg {
            self.at += 1;
        }
        let int = self.digits().to_string();
        if int.is_empty() || (int.len() > 1 && int.starts_with('0')) {
            return None;
        }
        let mut frac = String::new();
        let mut integral = true;
        if self.s.get(self.at) == Some(&b'.') {
            self.at += 1;
            frac = self.digits().to_string();
            if frac.is_empty() {
                return None;
            }
            integral = false;
        }
        let mut exp: i64 = 0;
        if matches!(self.s.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            let mut exp_neg = false;
            if let Some(&c @ (b'+' | b'-')) = self.s.get(self.at) {
                exp_neg = c == b'-';
                self.at += 1;
            }
            let e = self.digits();
            if e.is_empty() {
                return None;
            }
            // Java's BigDecimal takes exponents that fit an int.
            exp = e.parse::<i32>().ok()?.into();
            if exp_neg {
                exp = -exp;
            }
            integral = false;
        }
        let digits = format!("{int}{frac}");
        Some(Node::Num(Num::new(
            neg,
            &digits,
            frac.len() as i64 - exp,
            integral,
        )))
    }

    fn string(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = String::new();
        let mut units: Vec<u16> = Vec::new();
        loop {
            let b = *self.s.get(self.at)?;
            match b {
                b'"' => {
                    self.at += 1;
                    flush(&mut units, &mut out)?;
                    return Some(out);
                }
                b'\\' => {
                    let e = *self.s.get(self.at + 1)?;
                    self.at += 2;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex =
                                std::str::from_utf8(self.s.get(self.at..self.at + 4)?).ok()?;
                            units.push(u16::from_str_radix(hex, 16).ok()?);
                            self.at += 4;
                            continue;
                        }
                        _ => return None,
                    };
                    flush(&mut units, &mut out)?;
                    out.push(c);
                }
                0..=0x1f => return None,
                _ => {
                    flush(&mut units, &mut out)?;
                    let c = self.t.get(self.at..)?.chars().next()?;
                    out.push(c);
                    self.at += c.len_utf8();
                }
            }
        }
    }
}

/// `\u` escapes as UTF-16 (a surrogate pair is one character; a lone surrogate is refused).
fn flush(units: &mut Vec<u16>, out: &mut String) -> Option<()> {
    if units.is_empty() {
        return Some(());
    }
    let s = String::from_utf16(units).ok()?;
    out.push_str(&s);
    units.clear();
    Some(())
}

impl From<&serde_json::Value> for Node {
    fn from(v: &serde_json::Value) -> Node {
        parse(&v.to_string()).unwrap_or(Node::Null)
    }
}
