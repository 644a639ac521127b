//! Problems found in JSON that `pipeline.toml` holds (request schemas, event filter patterns), located in the
//! JSON text: one collector, [`Problems`], shared by the schema and filter checks; the compiler places them in
//! pipeline.toml or the schema file.

use std::ops::Range;

/// One problem, at a range of the JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub span: Range<usize>,
    pub message: String,
    pub help: Option<String>,
}

/// The problems a check has found so far.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub(crate) list: Vec<Problem>,
}

impl Problems {
    pub(crate) fn err(
        &mut self,
        span: &Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.list.push(Problem {
            span: span.clone(),
            message: message.into(),
            help,
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
