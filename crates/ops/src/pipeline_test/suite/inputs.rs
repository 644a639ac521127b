//! The inputs of a test (`[[test.send]]`): a request on a route, or a record put straight on a stream, with
//! its body, checked against the pipeline.

use super::*;

impl Check<'_> {
    pub(super) fn request(&mut self, route: &Spanned<String>, raw: &RawSend) -> Option<Input> {
        for (key, value) in [
            (
                "partition_key",
                raw.partition_key.as_ref().map(Spanned::span),
            ),
            ("data", raw.data.as_ref().map(Spanned::span)),
            ("source_ip", raw.source_ip.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = value {
                self.err(
                    span,
                    format!("`{key}` is for a record put on a stream; a request on a route takes it from the route"),
                    Some("for a request: `params`, `body` or `raw_body`, `content_type`, `auth`".into()),
                );
            }
        }
        let name = self.known("route", route, self.pipeline.routes.keys())?;
        let route = &self.pipeline.routes[&name];
        let empty = BTreeMap::new();
        let params = raw.params.as_ref().unwrap_or(&empty);
        let declared: Vec<&String> = route
            .segments
            .iter()
            .filter_map(|s| match s {
                PathSegment::Param(p) => Some(p),
                PathSegment::Literal(_) => None,
            })
            .collect();
        let mut ok = true;
        for given in params.keys() {
            if !declared.contains(&given.get_ref()) {
                ok = false;
                let list = declared
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.err(
                    given.span(),
                    format!(
                        "route `{name}` ({}) has no path parameter `{}`",
                        route.path,
                        given.get_ref()
                    ),
                    Some(if list.is_empty() {
                        "this route has no path parameters: leave `params` out".into()
                    } else {
                        format!("its parameters: {list}")
                    }),
                );
            }
        }
        let mut values = BTreeMap::new();
        for param in &declared {
            match params.get(param.as_str()) {
                None => {
                    ok = false;
                    self.err(
                        route_span(raw),
                        format!(
                            "route `{name}` ({}) needs the path parameter `{param}`",
                            route.path
                        ),
                        Some(format!("add `params = {{ {param} = \"…\" }}`")),
                    );
                }
                Some(value) => {
                    match scalar_text(value.get_ref()) {
                        Some(text) if !text.is_empty() => {
                            values.insert(param.as_str(), text);
                        }
                        _ => {
                            ok = false;
                            self.err(
                            value.span(),
                            format!("path parameter `{param}` must be a non-empty string or a number"),
                            None,
                        );
                        }
                    }
                }
            }
        }
        let method = match &raw.method {
            None => route.method.to_string(),
            Some(m) => {
                let method = m.get_ref().trim().to_ascii_uppercase();
                if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                    ok = false;
                    self.err(
                        m.span(),
                        "`method` must be an HTTP method such as \"GET\"",
                        None,
                    );
                }
                method
            }
        };
        let auth = match raw.auth.as_ref().map(|a| (a, a.get_ref().as_str())) {
            None | Some((_, "valid")) => Auth::Valid,
            Some((_, "wrong-password")) => Auth::WrongPassword,
            Some((_, "none")) => Auth::None,
            Some((a, other)) => {
                ok = false;
                self.err(
                    a.span(),
                    format!("`auth` is \"{other}\", which is not one of \"valid\", \"wrong-password\", \"none\""),
                    None,
                );
                Auth::Valid
            }
        };
        let body = self.body(raw.body.as_ref(), raw.raw_body.as_ref(), "raw_body");
        let content_type = match &raw.content_type {
            None => Some(route.content_type.clone()),
            Some(c) if c.get_ref().is_empty() => None,
            Some(c) => Some(c.get_ref().clone()),
        };
        if !ok {
            return None;
        }
        let mut path = format!("/{}", self.pipeline.stage);
        for segment in &route.segments {
            path.push('/');
            match segment {
                PathSegment::Literal(l) => path.push_str(l),
                PathSegment::Param(p) => path.push_str(&percent_encode(&values[p.as_str()])),
            }
        }
        let stream = match &route.stream {
            StreamTarget::Fixed(s) => s.clone(),
            StreamTarget::PathParam { param, .. } => values[param.as_str()].clone(),
        };
        Some(Input::Request(Request {
            method,
            path,
            stream,
            content_type,
            body: body?,
            auth,
        }))
    }

    pub(super) fn record(&mut self, stream: &Spanned<String>, raw: &RawSend) -> Option<Input> {
        let request_only = [
            (
                "params",
                raw.params
                    .as_ref()
                    .and_then(|p| p.keys().next())
                    .map(Spanned::span),
            ),
            ("method", raw.method.as_ref().map(Spanned::span)),
            ("raw_body", raw.raw_body.as_ref().map(Spanned::span)),
            ("content_type", raw.content_type.as_ref().map(Spanned::span)),
            ("auth", raw.auth.as_ref().map(Spanned::span)),
            ("status", raw.status.as_ref().map(Spanned::span)),
            ("error", raw.error.as_ref().map(Spanned::span)),
            ("message", raw.message.as_ref().map(Spanned::span)),
        ];
        for (key, span) in request_only {
            if let Some(span) = span {
                self.err(
                    span,
                    format!("`{key}` is for a request on a route; a record put straight on a stream has none"),
                    Some("for a record: `partition_key`, `body` or `data`, `source_ip`".into()),
                );
            }
        }
        let stream = self.known("stream", stream, self.pipeline.streams.keys());
        let partition_key = match &raw.partition_key {
            Some(k) if !k.get_ref().is_empty() => Some(k.get_ref().clone()),
            Some(k) => {
                self.err(
                    k.span(),
                    "`partition_key` is empty (Kinesis needs one)",
                    None,
                );
                None
            }
            None => {
                self.err(
                    raw.stream.as_ref().map_or(0..0, Spanned::span),
                    "a record put on a stream needs a `partition_key`",
                    None,
                );
                None
            }
        };
        let source_ip = match &raw.source_ip {
            None => "127.0.0.1".to_owned(),
            Some(ip) => {
                if ip.get_ref().parse::<std::net::IpAddr>().is_err() {
                    self.err(
                        ip.span(),
                        format!("`source_ip` \"{}\" is not an IP address", ip.get_ref()),
                        None,
                    );
                }
                ip.get_ref().clone()
            }
        };
        let data = match (&raw.data, &raw.body) {
            (Some(data), None) => Some(RecordData::Raw(data.get_ref().as_bytes().to_vec())),
            _ => self
                .body(raw.body.as_ref(), raw.data.as_ref(), "data")
                .map(|body| RecordData::Body {
                    body: String::from_utf8_lossy(&body).into_owned(),
                    source_ip,
                }),
        };
        Some(Input::Record {
            stream: stream?,
            partition_key: partition_key?,
            data: data?,
        })
    }

    /// The body: `body` (JSON, as an inline table or JSON text), or `raw` (bytes sent as written); `{}` when
    /// neither is given.
    pub(super) fn body(
        &mut self,
        body: Option<&Spanned<toml::Value>>,
        raw: Option<&Spanned<String>>,
        raw_name: &str,
    ) -> Option<Vec<u8>> {
        match (body, raw) {
            (Some(_), Some(raw)) => {
                self.err(
                    raw.span(),
                    format!("give either `body` or `{raw_name}`, not both"),
                    None,
                );
                None
            }
            (None, Some(raw)) => Some(raw.get_ref().as_bytes().to_vec()),
            (None, None) => Some(b"{}".to_vec()),
            (Some(body), None) => match body.get_ref() {
                toml::Value::String(text) => match sluice_config::json::parse(text) {
                    Ok(_) => Some(text.as_bytes().to_vec()),
                    Err(e) => {
                        let at = sluice_config::json::toml_string_offsets(self.src, &body.span())
                            .and_then(|map| map.get(e.offset).copied())
                            .unwrap_or(body.span().start);
                        self.err(
                                at..at + 1,
                                format!("`body` is not JSON: {}", e.message),
                                Some(format!(
                                    "a `body` string is JSON text; to send bytes that are not JSON, use `{raw_name}`"
                                )),
                            );
                        None
                    }
                },
                other => Some(to_json(other).to_string().into_bytes()),
            },
        }
    }
}
