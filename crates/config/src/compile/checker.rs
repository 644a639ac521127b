//! The compiler's one checker: every error it finds, located in pipeline.toml (or a schema file), and the
//! checks every section shares (bounds, choices, names, references), driven by [`crate::settings`]. The
//! problems the schema and filter checks find in JSON ([`crate::problem`]) are located here too.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use crate::error::{ConfigError, closest, line_col};
use crate::json::{self, Json, toml_string_offsets};
use crate::problem::Problem;
use crate::settings::{self, LOG_RETENTION_DAYS, NameRule, Setting};

/// Every error found so far, and what locating them needs.
pub(super) struct Checker<'a> {
    pub(super) src: &'a str,
    pub(super) errors: Vec<ConfigError>,
    /// The folder schema files are read from.
    pub(super) dir: &'a Path,
    /// The schema files read (name as written, text), for showing their errors.
    pub(super) files: Vec<(String, String)>,
}

impl Checker<'_> {
    /// An error in another file (`text` is that file's).
    pub(super) fn err_in_file(
        &mut self,
        file: &str,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let (line, column) = line_col(text, span.start);
        self.errors.push(ConfigError {
            message: message.into(),
            span,
            line,
            column,
            help,
            file: Some(file.to_string()),
        });
    }

    /// JSON written in a TOML string: parsed, with errors located in pipeline.toml. Answers the value and the
    /// map from positions in the string's text to positions in the file.
    pub(super) fn json_in_string(
        &mut self,
        v: &Spanned<String>,
        what: &str,
    ) -> Option<(Json, Vec<usize>)> {
        let map = toml_string_offsets(self.src, &v.span())
            .unwrap_or_else(|| vec![v.span().start; v.get_ref().len() + 1]);
        match json::parse(v.get_ref()) {
            Ok(json) => Some((json, map)),
            Err(e) => {
                let at = map.get(e.offset).copied().unwrap_or(v.span().start);
                self.err(
                    at..at + 1,
                    format!("{what} is not JSON: {}", e.message),
                    None,
                );
                None
            }
        }
    }

    /// Problems found in a schema file (`text` is its text), located in it.
    pub(super) fn problems_in_file(&mut self, file: &str, text: &str, problems: Vec<Problem>) {
        for p in problems {
            self.err_in_file(file, text, p.span, p.message, p.help);
        }
    }

    /// Problems found in JSON written in a TOML string, located in pipeline.toml.
    pub(super) fn problems_in_string(&mut self, map: &[usize], problems: Vec<Problem>) {
        for p in problems {
            let start = map.get(p.span.start).copied().unwrap_or(0);
            let end = map.get(p.span.end).copied().unwrap_or(start).max(start);
            self.err(start..end, p.message, p.help);
        }
    }

    pub(super) fn err(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
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

    /// An integer within the setting's bounds, or `default` when absent (or out of bounds, after the error).
    pub(super) fn int_or(
        &mut self,
        v: &Option<Spanned<i64>>,
        setting: &Setting,
        default: i64,
    ) -> i64 {
        let (min, max) = setting.bounds();
        match v {
            None => default,
            Some(s) => {
                let n = *s.get_ref();
                if n < min || n > max {
                    let why = if setting.bound_by.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", setting.bound_by)
                    };
                    self.err(
                        s.span(),
                        format!(
                            "`{}` is {n}, but must be between {min} and {max}{why}",
                            setting.key
                        ),
                        None,
                    );
                    default
                } else {
                    n
                }
            }
        }
    }

    /// An integer within the setting's bounds, or its default.
    pub(super) fn int(&mut self, v: &Option<Spanned<i64>>, setting: &Setting) -> i64 {
        self.int_or(v, setting, setting.int_default())
    }

    /// [`Checker::int`] as a `u32` (every bounded setting fits; out of range falls back to the default).
    pub(super) fn uint(&mut self, v: &Option<Spanned<i64>>, setting: &Setting) -> u32 {
        let n = self.int(v, setting);
        u32::try_from(n).unwrap_or_else(|_| u32::try_from(setting.int_default()).unwrap_or(0))
    }

    pub(super) fn log_retention(&mut self, v: &Option<Spanned<i64>>, setting: &Setting) -> u32 {
        let default = u32::try_from(setting.int_default()).unwrap_or(30);
        match v {
            None => default,
            Some(s) if LOG_RETENTION_DAYS.contains(s.get_ref()) => {
                u32::try_from(*s.get_ref()).unwrap_or(default)
            }
            Some(s) => {
                let n = *s.get_ref();
                let near = LOG_RETENTION_DAYS
                    .iter()
                    .min_by_key(|d| (**d - n).abs())
                    .copied()
                    .unwrap_or(30);
                self.err(
                    s.span(),
                    format!(
                        "`{}` is {n}, which CloudWatch Logs does not offer",
                        setting.key
                    ),
                    Some(format!(
                        "allowed values: {LOG_RETENTION_DAYS:?}; the closest is {near}"
                    )),
                );
                default
            }
        }
    }

    /// One of the setting's choices (matched exactly), with a suggestion when it is not.
    pub(super) fn choice(
        &mut self,
        v: &Spanned<String>,
        setting: &Setting,
    ) -> Option<&'static str> {
        let choices = setting.choices();
        let given = v.get_ref().as_str();
        if let Some(c) = choices.iter().find(|c| **c == given) {
            return Some(c);
        }
        let help = match closest(given, choices.iter().copied()) {
            Some(c) => format!("did you mean `{c}`? (one of {})", list(choices)),
            None => format!("one of {}", list(choices)),
        };
        self.err(
            v.span(),
            format!(
                "`{}` is \"{given}\", which is not a valid value",
                setting.key
            ),
            Some(help),
        );
        None
    }

    /// The setting's choice, or its default when absent or invalid.
    pub(super) fn choice_or_default(
        &mut self,
        v: &Option<Spanned<String>>,
        setting: &Setting,
    ) -> &'static str {
        let default = match setting.default {
            settings::DefaultValue::Str(d) => d,
            _ => setting.choices().first().copied().unwrap_or(""),
        };
        match v {
            None => default,
            Some(v) => self.choice(v, setting).unwrap_or(default),
        }
    }

    /// A name of `rule`'s characters, within its length once prefixed with `prefix` (when the rule says so).
    pub(super) fn name(&mut self, v: &Spanned<String>, rule: &NameRule, prefix: &str) {
        self.name_as(v, rule.what, rule, prefix);
    }

    pub(super) fn name_as(
        &mut self,
        v: &Spanned<String>,
        what: &str,
        rule: &NameRule,
        prefix: &str,
    ) {
        let prefix = if rule.prefixed { prefix } else { "" };
        let name = v.get_ref();
        if let Some(bad) = name.chars().find(|c| !(rule.allowed)(*c)) {
            self.err(
                v.span(),
                format!("{what} \"{name}\" contains {bad:?}; {}", rule.rule),
                None,
            );
            return;
        }
        let full = prefix.chars().count() + name.chars().count();
        if full < rule.min || full > rule.max {
            let shown = if prefix.is_empty() {
                String::new()
            } else {
                format!(" (as \"{prefix}{name}\" in AWS)")
            };
            self.err(
                v.span(),
                format!(
                    "{what} \"{name}\"{shown} is {full} characters long; AWS allows {} to {}",
                    rule.min, rule.max
                ),
                None,
            );
        }
    }

    /// A reference to a declared component, with a did-you-mean.
    pub(super) fn reference(
        &mut self,
        v: &Spanned<String>,
        key: &str,
        kind: &str,
        declared: &BTreeSet<String>,
    ) -> bool {
        if declared.contains(v.get_ref()) {
            return true;
        }
        let help = match closest(v.get_ref(), declared.iter().map(String::as_str)) {
            Some(c) => Some(format!("did you mean `{c}`?")),
            None if declared.is_empty() => {
                Some(format!("declare it under [{kind}.{}]", v.get_ref()))
            }
            None => Some(format!(
                "declared {kind}: {}",
                list(&declared.iter().map(String::as_str).collect::<Vec<_>>())
            )),
        };
        self.err(
            v.span(),
            format!(
                "`{key}` refers to \"{}\", which is not declared in [{kind}]",
                v.get_ref()
            ),
            help,
        );
        false
    }
}

/// Items as a list of code spans: `a`, `b`.
pub(super) fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
