//! Patterns as fge runs them: ECMA 262 regular expressions in Rhino (`new RegExp(re).test(input)`: a search,
//! not a whole match, no flags, over UTF-16 code units). `regress` implements ECMA 262; without the `u` flag
//! and over UCS-2 input it reads a pattern and a string as Rhino does, but for two later additions Rhino
//! lacks: a group name or lookbehind (`(?<`), which Rhino refuses (so is it refused here), and `\u{…}`, which
//! Rhino reads as the letter `u` and a literal `{…}` (so it is rewritten to mean that).

/// A compiled pattern.
#[derive(Debug)]
pub struct Pattern(regress::Regex);

impl Pattern {
    /// Compiles `source`; `Err` names why it is not an ECMA 262 regular expression (as Rhino reads them).
    pub fn new(source: &str) -> Result<Pattern, String> {
        let mut rhino = String::with_capacity(source.len());
        let mut chars = source.chars().peekable();
        let mut in_class = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('u') if chars.peek() == Some(&'{') => rhino.push_str("u\\"),
                    Some(next) => {
                        rhino.push('\\');
                        rhino.push(next);
                    }
                    None => rhino.push('\\'),
                },
                '[' if !in_class => {
                    in_class = true;
                    rhino.push(c);
                }
                ']' if in_class => {
                    in_class = false;
                    rhino.push(c);
                }
                '(' if !in_class && source_at(&mut chars, "?<") => {
                    return Err(
                        "named groups and lookbehind (`(?<`) are not in the ECMA 262 edition API Gateway's validator (Rhino) implements".into(),
                    );
                }
                c => rhino.push(c),
            }
        }
        regress::Regex::with_flags(&rhino, "")
            .map(Pattern)
            .map_err(|e| e.to_string())
    }

    /// Whether the pattern matches somewhere in `text`.
    pub fn test(&self, text: &str) -> bool {
        let units: Vec<u16> = text.encode_utf16().collect();
        self.0.find_from_ucs2(&units, 0).next().is_some()
    }
}

/// Whether the characters that follow start with `s` (without consuming them).
fn source_at(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, s: &str) -> bool {
    let rest: String = chars.clone().take(s.chars().count()).collect();
    rest == s
}
