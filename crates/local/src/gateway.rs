//! The local API Gateway: the stage's routes, in API Gateway's order of checks, answering from
//! [`sluice_contract`] so the local and the deployed gateway cannot drift.
//!
//! 0. (with AWS's limits on) the stage's throttle → 429 `Throttled` before anything else but routing, and
//!    each shard's write limits → 429 `Throttled` just before the record is appended (see `throttle`);
//! 1. routing — unknown path, wrong method, undeclared stream, empty path parameter → 404 `NotFound`;
//! 2. auth, by the authorizer's library — no or malformed `Authorization` → 401 `Unauthorized` (with
//!    `WWW-Authenticate: Basic realm="<pipeline name>"`), wrong credentials → 403 `AccessDenied`, the
//!    credentials file unreadable → 500 (the deployed authorizer fails closed; API Gateway's `DEFAULT_5XX`);
//! 3. [`api::check_content_type`] (415), then the body against the route's model — its request schema, or
//!    "a JSON object" — with [`sluice_schema`], as API Gateway's request validator does (400 `BadRequestBody`,
//!    whose message carries the validation error string API Gateway would give), then the partition key
//!    length (400 `InvalidPartitionKey`); nothing is written for a refused request;
//! 4. the body, read within the body timeout (408 `RequestTimeout` otherwise) and never beyond what a record
//!    can hold: a body over Kinesis's 1 MiB record limit can never be stored, so it is refused (413
//!    `RecordTooLarge`) when its `Content-Length` says so, or as soon as that much has arrived;
//! 5. the record: [`envelope::encode`], over 1 MiB → 413 `RecordTooLarge`;
//! 6. `PutRecord` on the local stream: 200 `{"SequenceNumber","ShardId"}` once the record is on disk; 503
//!    `StorageFull` (with `Retry-After: 1`) while the store's disk is full, 502 `BackendError` for any other
//!    failure of the store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sluice_authorizer::{Authorizer, Decision};

use crate::credentials::CredentialsFile;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};

use super::http::{ServeLimits, body_deadline};
use super::kinesis;
use super::store::{Store, now_ms};
use super::throttle::{Admission, GatewayLimits, WafLimit};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use sluice_config::{PartitionKeySource, PathSegment, Pipeline, StreamTarget};
use sluice_contract::api::{self, ApiError, PutRecordReply, Throttle};
use sluice_contract::envelope;
use sluice_contract::limits::MAX_RECORD_BYTES;
use sluice_schema::RequestValidator;

/// The most body the gateway buffers: a record holds the body plus the envelope and the partition key, so a
/// body this large is already over the record limit and is refused without reading more.
pub const MAX_BODY_BYTES: usize = MAX_RECORD_BYTES;

/// A route, compiled for matching.
struct LocalRoute {
    name: String,
    method: Method,
    /// Path segments after the stage.
    segments: Vec<PathSegment>,
    stream: StreamTarget,
    partition_key: PartitionKeySource,
    content_type: String,
    auth: bool,
    /// The route's model: its request schema, or any JSON object.
    validator: RequestValidator,
}

/// What a matched request resolves to.
struct Matched<'a> {
    route: &'a LocalRoute,
    stream: String,
    partition_key: Option<String>,
}

/// The gateway's state.
pub struct Gateway {
    stage: String,
    realm: HeaderValue,
    routes: Vec<LocalRoute>,
    /// Logical stream name → shard count.
    shard_counts: std::collections::BTreeMap<String, u32>,
    authorizer: Option<Authorizer<CredentialsFile>>,
    store: Store,
    limits: ServeLimits,
    /// AWS's stage and shard limits; `None` when off (`--unlimited`).
    aws_limits: Option<GatewayLimits>,
    /// The WAF's rate-based rule, with `[waf]` and AWS's limits on.
    waf: Option<WafLimit>,
}

impl Gateway {
    pub fn new(
        pipeline: &Pipeline,
        credentials: CredentialsFile,
        store: Store,
        limits: ServeLimits,
        aws_limits: bool,
    ) -> Self {
        let routes = pipeline
            .routes
            .values()
            .map(|r| LocalRoute {
                name: r.name.clone(),
                method: Method::from_bytes(r.method.as_str().as_bytes()).unwrap_or(Method::POST),
                segments: r.segments.clone(),
                stream: r.stream.clone(),
                partition_key: r.partition_key.clone(),
                content_type: r.content_type.to_ascii_lowercase(),
                auth: r.auth && pipeline.auth.is_some(),
                // The schema compiled when pipeline.toml was checked; should it not, nothing is validated
                // beyond "a JSON object".
                validator: r
                    .schema
                    .as_ref()
                    .and_then(|s| s.validator().ok())
                    .unwrap_or_else(RequestValidator::object),
            })
            .collect();
        let realm = format!("Basic realm=\"{}\"", pipeline.name.replace(['"', '\\'], ""));
        Gateway {
            stage: pipeline.stage.clone(),
            realm: HeaderValue::from_str(&realm).unwrap_or(HeaderValue::from_static("Basic")),
            routes,
            shard_counts: pipeline
                .streams
                .iter()
                .map(|(name, s)| (name.clone(), s.shard_count()))
                .collect(),
            // The same rules as the deployed authorizer: the credentials file is re-read at most every 10 s,
            // the previous password is accepted for its grace period.
            authorizer: pipeline.auth.as_ref().map(|auth| {
                Authorizer::new(
                    credentials,
                    Duration::from_secs(auth.previous_password_grace_seconds.into()),
                )
            }),
            store,
            limits,
            aws_limits: aws_limits.then(|| GatewayLimits::new(pipeline)),
            waf: pipeline
                .waf
                .as_ref()
                .filter(|_| aws_limits)
                .map(|w| WafLimit::new(w.rate_limit)),
        }
    }

    /// The route and its parameters for a method and a raw (percent-encoded) path, as API Gateway resolves it.
    fn resolve(&self, method: &Method, path: &str) -> Option<Matched<'_>> {
        let rest = path.strip_prefix('/')?.strip_prefix(self.stage.as_str())?;
        let rest = rest.strip_prefix('/')?;
        let raw: Vec<&str> = rest.split('/').collect();
        'routes: for route in &self.routes {
            if route.method != *method || route.segments.len() != raw.len() {
                continue;
            }
            let mut stream = match &route.stream {
                StreamTarget::Fixed(s) => Some(s.clone()),
                StreamTarget::PathParam { .. } => None,
            };
            let mut partition_key = None;
            for (segment, raw) in route.segments.iter().zip(&raw) {
                let Some(value) = percent_decode(raw) else {
                    continue 'routes;
                };
                match segment {
                    PathSegment::Literal(literal) => {
                        if value != *literal {
                            continue 'routes;
                        }
                    }
                    PathSegment::Param(param) => {
                        if value.is_empty() {
                            continue 'routes;
                        }
                        if let StreamTarget::PathParam {
                            param: stream_param,
                            allowed,
                        } = &route.stream
                            && stream_param == param
                        {
                            if !allowed.contains(&value) {
                                continue 'routes;
                            }
                            stream = Some(value.clone());
                        }
                        if let PartitionKeySource::PathParam(key_param) = &route.partition_key
                            && key_param == param
                        {
                            partition_key = Some(value);
                        }
                    }
                }
            }
            let stream = stream?;
            return Some(Matched {
                route,
                stream,
                partition_key,
            });
        }
        None
    }
}

/// Percent-decodes one path segment (`%XX`; `+` stays `+`, as in a path). `None` if the result is not UTF-8
/// or an escape is malformed.
pub fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn error_response(error: ApiError, request_id: &str) -> Response {
    error_response_with(error, error.message(), request_id)
}

/// API Gateway's catch-all answer for a status the error table has no row for ([`api::default_body`]).
pub(crate) fn default_response(status: u16, request_id: &str) -> Response {
    let body = api::default_body(status, request_id);
    let mut response = Response::new(Body::from(serde_json::to_vec(&body).unwrap_or_default()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .extensions_mut()
        .insert(ErrorCode(if (400..500).contains(&status) {
            api::DEFAULT_4XX_CODE
        } else {
            ApiError::BackendError.code()
        }));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

/// 429 `Throttled`, saying which limit the request met.
fn throttled(by: Throttle, request_id: &str) -> Response {
    error_response_with(ApiError::Throttled, by.message(), request_id)
}

/// A body that does not match the route's model: 400 `BadRequestBody` with API Gateway's validation error.
fn bad_body(validation_error: &str, request_id: &str) -> Response {
    let message = api::bad_request_body_message(validation_error);
    error_response_with(ApiError::BadRequestBody, &message, request_id)
}

fn error_response_with(error: ApiError, message: &str, request_id: &str) -> Response {
    let body =
        serde_json::to_vec(&error.body_with_message(message, request_id)).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.extensions_mut().insert(ErrorCode(error.code()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if !request_id.is_empty()
        && let Ok(id) = HeaderValue::from_str(request_id)
    {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

/// The gateway a request is answered by: `cargo xtask dev --watch` swaps in the gateway of a reloaded
/// pipeline.toml while the listening socket stays open; a request in flight finishes on the one it began with.
pub type SharedGateway = Arc<arc_swap::ArcSwap<Gateway>>;

/// Every request: see the module documentation for the order of checks.
pub async fn handle(
    State(shared): State<SharedGateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = std::time::Instant::now();
    let gateway = shared.load_full();
    let received_at = now_ms();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let response = answer(&gateway, peer, &parts, body, received_at, &request_id).await;
    log_request(&parts, &response, started.elapsed(), &request_id);
    response
}

/// The target of the one line per request (`cargo xtask dev --quiet` turns it off; so does
/// `RUST_LOG=info,sluice::request=off`).
pub const REQUEST_LOG: &str = "sluice::request";

/// The error code an answer carries (set by [`error_response_with`]), for the request's log line.
#[derive(Debug, Clone, Copy)]
struct ErrorCode(&'static str);

/// One line per request at info: method, path (never the query string or a header, so never credentials),
/// status, the error code, duration and request id.
fn log_request(
    parts: &axum::http::request::Parts,
    response: &Response,
    took: Duration,
    request_id: &str,
) {
    let status = response.status().as_u16();
    let code = response
        .extensions()
        .get::<ErrorCode>()
        .map_or(String::new(), |c| format!(" {}", c.0));
    // The WAF answers before a request id exists.
    let id = if response.headers().contains_key("x-amzn-requestid") {
        request_id
    } else {
        "-"
    };
    tracing::info!(
        target: REQUEST_LOG,
        "{} {} → {status}{code} in {:.1} ms (request {id})",
        parts.method,
        parts.uri.path(),
        took.as_secs_f64() * 1000.0,
    );
}

async fn answer(
    gateway: &Gateway,
    peer: SocketAddr,
    parts: &axum::http::request::Parts,
    body: Body,
    received_at: i64,
    request_id: &str,
) -> Response {
    // The WAF is in front of everything: it answers before API Gateway assigns a request id.
    if let Some(waf) = &gateway.waf
        && !waf.admit(peer.ip(), std::time::Instant::now())
    {
        return throttled(Throttle::Waf, "");
    }
    let Some(matched) = gateway.resolve(&parts.method, parts.uri.path()) else {
        return error_response(ApiError::NotFound, request_id);
    };
    let route = matched.route;

    // API Gateway throttles before it calls the authorizer.
    if let Some(limits) = &gateway.aws_limits
        && limits.admit_request(&route.name, &matched.stream, std::time::Instant::now())
            != Admission::Admitted
    {
        return throttled(Throttle::Stage, request_id);
    }

    if route.auth
        && let Some(authorizer) = &gateway.authorizer
    {
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        let decision = match (values.next(), values.next()) {
            (None, _) => Ok(Decision::Unauthorized),
            (Some(_), Some(_)) => Ok(Decision::Unauthorized),
            (Some(value), None) => match value.to_str() {
                Ok(text) => authorizer.try_decide(Some(text)).await,
                Err(_) => Ok(Decision::Unauthorized),
            },
        };
        let decision = match decision {
            Ok(decision) => decision,
            // The deployed authorizer fails closed when it cannot read the secret, and API Gateway answers 500.
            Err(e) => {
                tracing::error!(error = %e, request_id, "cannot read the credentials; answering 500 as API Gateway does when its authorizer fails");
                return default_response(api::AUTHORIZER_FAILURE_STATUS, request_id);
            }
        };
        match decision {
            Decision::Allow { .. } => {}
            Decision::Unauthorized => {
                let mut response = error_response(ApiError::Unauthorized, request_id);
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, gateway.realm.clone());
                return response;
            }
            Decision::Deny => return error_response(ApiError::AccessDenied, request_id),
        }
    }

    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return error_response(ApiError::RecordTooLarge, request_id);
    }
    let read = Limited::new(body, MAX_BODY_BYTES).collect();
    let bytes = match body_deadline(&gateway.limits, read).await {
        Err(_elapsed) => return error_response(ApiError::RequestTimeout, request_id),
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            return error_response(ApiError::RecordTooLarge, request_id);
        }
        // The client went away or sent a malformed body: there is nobody to answer.
        Ok(Err(_)) => return bad_body(sluice_schema::NOT_JSON, request_id),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let partition_key = match (&route.partition_key, matched.partition_key) {
        (PartitionKeySource::PathParam(_), Some(key)) => key,
        _ => request_id.to_owned(),
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if let Err(error) = api::check_content_type(content_type, &route.content_type) {
        return error_response(error, request_id);
    }
    // A body that is not UTF-8 is not JSON: checked after the content type, as the contract orders it.
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return bad_body(sluice_schema::NOT_JSON, request_id);
    };
    if let Err(validation_error) = sluice_schema::validate_text(&route.validator, text) {
        return bad_body(validation_error.validation_error_string(), request_id);
    }
    if let Err(error) = api::check_partition_key(&partition_key) {
        return error_response(error, request_id);
    }
    let source_ip = peer.ip().to_string();
    let data = envelope::encode(&envelope::Received {
        received_at_ms: received_at,
        request_id,
        source_ip: &source_ip,
        body: text,
    });
    if api::record_too_large(&data, &partition_key) {
        return error_response(ApiError::RecordTooLarge, request_id);
    }

    let shard_count = gateway
        .shard_counts
        .get(&matched.stream)
        .copied()
        .unwrap_or(1);
    if let Some(limits) = &gateway.aws_limits {
        let shard = kinesis::shard_for(&partition_key, shard_count);
        let bytes = data.len() + partition_key.len();
        if limits.admit_record(&matched.stream, shard, bytes, std::time::Instant::now())
            != Admission::Admitted
        {
            return throttled(Throttle::Stream, request_id);
        }
    }
    match gateway
        .store
        .append(
            &matched.stream,
            shard_count,
            &partition_key,
            data,
            received_at,
        )
        .await
    {
        Ok(appended) => {
            let reply = PutRecordReply {
                sequence_number: appended.sequence_number(),
                shard_id: appended.shard_id(),
            };
            let mut response = axum::Json(reply).into_response();
            if let Ok(id) = HeaderValue::from_str(request_id) {
                response.headers_mut().insert("x-amzn-requestid", id);
            }
            response
        }
        // The store logs a full disk once, not per request; each request's line carries the code.
        Err(e) if e.is_disk_full() || gateway.store.is_full() => {
            let mut response = error_response(ApiError::StorageFull, request_id);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Err(e) => {
            tracing::error!(stream = %matched.stream, error = %e, request_id, "PutRecord failed");
            error_response(ApiError::BackendError, request_id)
        }
    }
}

/// The gateway's router: every request goes to [`handle`] (which limits the body itself).
pub fn router(gateway: SharedGateway) -> axum::Router {
    axum::Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(gateway)
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn path_segments_are_percent_decoded() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("%FF"), None);
    }
}
