//! The expectations of a test: the answer to a request, the fate of a record, an item in a table.

use super::*;

impl Check<'_> {
    pub(super) fn answer(&mut self, raw: &RawSend) -> Option<AnswerExpectation> {
        let error = match &raw.error {
            None => None,
            Some(e) => match ApiError::ALL.iter().find(|a| a.code() == e.get_ref()) {
                Some(a) => Some(*a),
                None => {
                    let codes = ApiError::ALL.map(ApiError::code).join(", ");
                    self.err(
                        e.span(),
                        format!(
                            "`error` \"{}\" is not an error code of the gateway",
                            e.get_ref()
                        ),
                        Some(format!("one of {codes} (docs/CONTRACTS.md)")),
                    );
                    return None;
                }
            },
        };
        let status = match (&raw.status, error) {
            (Some(s), _) if !(100..=599).contains(s.get_ref()) => {
                self.err(
                    s.span(),
                    format!("`status` {} is not an HTTP status", s.get_ref()),
                    None,
                );
                return None;
            }
            (Some(s), Some(e)) if i64::from(e.status()) != *s.get_ref() => {
                self.err(
                    s.span(),
                    format!(
                        "`status` is {}, but the gateway answers {} with {}",
                        s.get_ref(),
                        e.code(),
                        e.status()
                    ),
                    Some("leave `status` out: it follows from `error`".into()),
                );
                return None;
            }
            (Some(s), _) => u16::try_from(*s.get_ref()).unwrap_or(200),
            (None, Some(e)) => e.status(),
            (None, None) => 200,
        };
        if let Some(m) = &raw.message
            && status == 200
        {
            self.err(
                m.span(),
                "`message` is a substring of an error's message, but this request is expected to succeed",
                Some("add the `error` code expected".into()),
            );
        }
        Some(AnswerExpectation {
            status,
            error,
            message: raw.message.as_ref().map(|m| m.get_ref().clone()),
        })
    }

    pub(super) fn fate(
        &mut self,
        raw: &RawSend,
        answer: Option<&AnswerExpectation>,
        input: Option<&Input>,
    ) -> Option<Fate> {
        let filtered = raw.filtered.as_ref().filter(|f| *f.get_ref());
        let fate = match (filtered, &raw.dead_letter) {
            (Some(_), Some(d)) => {
                self.err(
                    d.span(),
                    "a record is either filtered out or dead-lettered, not both",
                    None,
                );
                return None;
            }
            (Some(_), None) => Fate::Filtered,
            (None, Some(d)) => {
                let reasons: Vec<&str> = Reason::ALL
                    .iter()
                    .map(|r| r.as_str())
                    .chain([
                        Condition::RetryAttemptsExhausted.as_str(),
                        Condition::RecordAgeExceeded.as_str(),
                    ])
                    .collect();
                if !reasons.contains(&d.get_ref().as_str()) {
                    self.err(
                        d.span(),
                        format!(
                            "`dead_letter` \"{}\" is not a dead-letter reason",
                            d.get_ref()
                        ),
                        Some(format!(
                            "one of {} (docs/CONTRACTS.md, the consumer contract)",
                            reasons.join(", ")
                        )),
                    );
                    return None;
                }
                Fate::DeadLetter {
                    reason: d.get_ref().clone(),
                    detail: raw.dead_letter_detail.as_ref().map(|d| d.get_ref().clone()),
                }
            }
            (None, None) => {
                if let Some(d) = &raw.dead_letter_detail {
                    self.err(
                        d.span(),
                        "`dead_letter_detail` needs a `dead_letter` reason",
                        None,
                    );
                    return None;
                }
                return Some(Fate::Unstated);
            }
        };
        let at = raw
            .dead_letter
            .as_ref()
            .map(Spanned::span)
            .or_else(|| raw.filtered.as_ref().map(Spanned::span))
            .unwrap_or(0..0);
        if let Some(answer) = answer
            && answer.status != 200
        {
            self.err(
                at,
                format!(
                    "this request is expected to be refused ({}), so no record reaches a consumer",
                    answer.status
                ),
                None,
            );
            return None;
        }
        let stream = match input {
            Some(Input::Request(r)) => &r.stream,
            Some(Input::Record { stream, .. }) => stream,
            None => return None,
        };
        if !self
            .pipeline
            .consumers
            .values()
            .any(|c| &c.stream == stream)
        {
            self.err(
                at,
                format!("no consumer reads stream `{stream}`, so nothing filters or dead-letters its records"),
                None,
            );
            return None;
        }
        Some(fate)
    }

    pub(super) fn item(&mut self, raw: Spanned<RawItem>) -> Option<ItemExpectation> {
        let raw = raw.into_inner();
        let table_name = self.known("table", &raw.table, self.pipeline.tables.keys())?;
        let table = &self.pipeline.tables[&table_name];
        let mut ok = true;
        let keys: Vec<_> = std::iter::once(&table.partition_key)
            .chain(table.sort_key.as_ref())
            .collect();
        let names = keys
            .iter()
            .map(|k| format!("`{}` ({})", k.name, k.kind))
            .collect::<Vec<_>>()
            .join(" and ");
        for given in raw.key.get_ref().keys() {
            if !keys.iter().any(|k| &k.name == given.get_ref()) {
                ok = false;
                self.err(
                    given.span(),
                    format!(
                        "`{}` is not a key attribute of table `{table_name}`",
                        given.get_ref()
                    ),
                    Some(format!("its key: {names}")),
                );
            }
        }
        let mut values = Vec::new();
        for key in &keys {
            match raw.key.get_ref().get(key.name.as_str()) {
                None => {
                    ok = false;
                    self.err(
                        raw.key.span(),
                        format!(
                            "the key of table `{table_name}` needs `{}` ({})",
                            key.name, key.kind
                        ),
                        Some(format!("its key: {names}")),
                    );
                }
                Some(value) => {
                    let text = match (key.kind, value.get_ref()) {
                        (KeyType::S, toml::Value::String(s)) if !s.is_empty() => Some(s.clone()),
                        (KeyType::N, toml::Value::Integer(_) | toml::Value::Float(_)) => {
                            scalar_text(value.get_ref())
                        }
                        (KeyType::N, toml::Value::String(s)) if s.trim().parse::<f64>().is_ok() => {
                            Some(s.trim().to_owned())
                        }
                        _ => None,
                    };
                    match text {
                        Some(text) => values.push(text),
                        None => {
                            ok = false;
                            self.err(
                                value.span(),
                                format!(
                                    "`{}` is a {} key: give {}",
                                    key.name,
                                    key.kind,
                                    match key.kind {
                                        KeyType::S => "a non-empty string",
                                        KeyType::N => "a number",
                                    }
                                ),
                                None,
                            );
                        }
                    }
                }
            }
        }
        let absent = raw.absent.as_ref().is_some_and(|a| *a.get_ref());
        let expected = match (&raw.members, absent) {
            (Some(m), true) => {
                self.err(m.span(), "an item expected `absent` has no `members`", None);
                return None;
            }
            (_, true) => ItemState::Absent,
            (None, false) => ItemState::Present(Value::Object(serde_json::Map::new())),
            (Some(m), false) => match m.get_ref() {
                toml::Value::Table(_) => ItemState::Present(to_json(m.get_ref())),
                _ => {
                    self.err(
                        m.span(),
                        "`members` must be a table of the item's members, e.g. `members = { payload = { message = \"hi\" } }`",
                        None,
                    );
                    return None;
                }
            },
        };
        if !ok {
            return None;
        }
        let mut values = values.into_iter();
        let partition = values.next()?;
        let sort = values.next();
        let label = format!(
            "item {table_name}[{}={partition}{}]",
            table.partition_key.name,
            match (&table.sort_key, &sort) {
                (Some(k), Some(s)) => format!(", {}={s}", k.name),
                _ => String::new(),
            }
        );
        Some(ItemExpectation {
            label,
            table: table_name,
            partition,
            sort,
            expected,
        })
    }
}
