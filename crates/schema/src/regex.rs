//! Patterns as fge runs them: ECMA 262 regular expressions in Rhino (`new RegExp(re).test(input)`: a search,
//! not a whole match, no flags, over UTF-16 code units). `regress` implements ECMA 262; without the `u` flag
//! and over UCS-2 input it reads a pattern and a string as Rhino does.

/// A compiled pattern.
#[derive(Debug)]
pub struct Pattern(regress::Regex);

impl Pattern {
    /// Compiles `source`; `Err` names why it is not an ECMA 262 regular expression.
    pub fn new(source: &str) -> Result<Pattern, String> {
        regress::Regex::with_flags(source, "")
            .map(Pattern)
            .map_err(|e| e.to_string())
    }

    /// Whether the pattern matches somewhere in `text`.
    pub fn test(&self, text: &str) -> bool {
        let units: Vec<u16> = text.encode_utf16().collect();
        self.0.find_from_ucs2(&units, 0).next().is_some()
    }
}
