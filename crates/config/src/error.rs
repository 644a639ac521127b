//! Config errors a person can act on: each names the file, line and column, shows the line with a
//! caret (rendered by miette), and suggests the closest valid name when one is close.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

/// One problem in `pipeline.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// What is wrong, naming the key.
    pub message: String,
    /// Byte range in the file the problem is at.
    pub span: Range<usize>,
    /// 1-based line and column of `span.start`.
    pub line: usize,
    pub column: usize,
    /// How to fix it ("did you mean `EventTable`?"), if we know.
    pub help: Option<String>,
    /// The file the problem is in, when it is not the pipeline file itself (a request schema file, as
    /// `pipeline.toml` names it).
    pub file: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every problem found in one file; a `miette::Diagnostic` whose `related` are the single errors.
#[derive(Debug)]
pub struct ConfigErrors {
    pub file: String,
    pub errors: Vec<ConfigError>,
    diagnostics: Vec<Single>,
}

impl ConfigErrors {
    pub fn new(file: &str, src: &str, errors: Vec<ConfigError>) -> ConfigErrors {
        ConfigErrors::with_files(file, src, &[], errors)
    }

    /// Errors in the pipeline file and in the files it names (`others`: name and text), each error shown
    /// in its own file.
    pub fn with_files(
        file: &str,
        src: &str,
        others: &[(String, String)],
        errors: Vec<ConfigError>,
    ) -> ConfigErrors {
        let source = Arc::new(NamedSource::new(file, src.to_string()));
        let others: Vec<(String, Arc<NamedSource<String>>)> = others
            .iter()
            .map(|(name, text)| (name.clone(), Arc::new(NamedSource::new(name, text.clone()))))
            .collect();
        let diagnostics = errors
            .iter()
            .map(|error| {
                let (file, source) = match &error.file {
                    Some(name) => match others.iter().find(|(n, _)| n == name) {
                        Some((n, s)) => (n.clone(), s.clone()),
                        None => (
                            name.clone(),
                            Arc::new(NamedSource::new(name, String::new())),
                        ),
                    },
                    None => (file.to_string(), source.clone()),
                };
                Single {
                    error: error.clone(),
                    file,
                    source,
                    severity: miette::Severity::Error,
                }
            })
            .collect();
        ConfigErrors {
            file: file.to_string(),
            errors,
            diagnostics,
        }
    }

    /// `file:line:col: message (help)` a line each, the form tests and plain logs use.
    pub fn to_plain(&self) -> String {
        let mut out = String::new();
        for e in &self.errors {
            out.push_str(&format!(
                "{}:{}:{}: {}",
                e.file.as_deref().unwrap_or(&self.file),
                e.line,
                e.column,
                e.message
            ));
            if let Some(h) = &e.help {
                out.push_str(&format!(" ({h})"));
            }
            out.push('\n');
        }
        out
    }

    /// The graphical rendering (no colour): each error with its file:line:col, the line and a caret.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(100);
        let _ = handler.render_report(&mut out, self);
        out
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{} is invalid: {n} error{}",
            self.file,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ConfigErrors {}

impl Diagnostic for ConfigErrors {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new("sluice::config"))
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(
            "nothing was written; fix the errors listed below and run the command again",
        ))
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        Some(Box::new(
            self.diagnostics.iter().map(|s| s as &dyn Diagnostic),
        ))
    }
}

/// A single error as a diagnostic, pointing into the shared source.
#[derive(Debug)]
struct Single {
    error: ConfigError,
    file: String,
    source: Arc<NamedSource<String>>,
    severity: miette::Severity,
}

impl fmt::Display for Single {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.error.line, self.error.column, self.error.message
        )
    }
}

impl std::error::Error for Single {}

impl Diagnostic for Single {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new("sluice::config"))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.error
            .help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&*self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let len = self.error.span.end.saturating_sub(self.error.span.start);
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(
                Some("here".to_string()),
                (self.error.span.start, len),
            ),
        )))
    }
}

/// Line and column (1-based, columns in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..floor_char_boundary(src, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The closest candidate to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::normalized_damerau_levenshtein(&name.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Findings about a valid file that a person should see (e.g. capacity): rendered like errors, as warnings.
#[derive(Debug)]
pub struct ConfigWarnings {
    pub file: String,
    pub warnings: Vec<ConfigError>,
    diagnostics: Vec<Single>,
}

impl ConfigWarnings {
    pub fn new(file: &str, src: &str, warnings: Vec<ConfigError>) -> ConfigWarnings {
        let source = Arc::new(NamedSource::new(file, src.to_string()));
        let diagnostics = warnings
            .iter()
            .map(|error| Single {
                error: error.clone(),
                file: file.to_string(),
                source: source.clone(),
                severity: miette::Severity::Warning,
            })
            .collect();
        ConfigWarnings {
            file: file.to_string(),
            warnings,
            diagnostics,
        }
    }

    /// Each warning with its file:line:col, the line and a caret (no colour).
    pub fn render(&self) -> String {
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(100);
        let mut out = String::new();
        for d in &self.diagnostics {
            let _ = handler.render_report(&mut out, d);
        }
        out
    }
}
