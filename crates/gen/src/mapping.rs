//! The API's mapping templates (VTL): the PutRecord request template (the record contract's envelope), the
//! integration responses (success, and the error contract's answers to Kinesis's failures) and the gateway
//! responses' bodies. The OpenAPI document ([`crate::openapi`]) embeds them.

use askama::Template;

use sluice_config::{PartitionKeySource, Pipeline};
use sluice_contract::ApiError;
use sluice_contract::envelope::{self, Field, VERSION as ENVELOPE_VERSION};
use sluice_contract::limits::MAX_RECORD_BYTES;

use crate::escape::{filters, json_string};
use crate::output::GenError;

/// The `error`/`message` members of one error, as JSON string literals, and its status.
struct ErrorView {
    status: u16,
    code: &'static str,
    message: String,
}

impl From<ApiError> for ErrorView {
    fn from(e: ApiError) -> Self {
        ErrorView {
            status: e.status(),
            code: e.code(),
            message: e.message().to_string(),
        }
    }
}

/// API Gateway's validation error string, as a gateway response template names it. API Gateway substitutes
/// it JSON-escaped (its quotes become `\"`), so it may stand inside a JSON string.
pub const VALIDATION_ERROR_STRING: &str = "$context.error.validationErrorString";

/// One literal piece of the envelope in the request template: a VTL variable holding JSON punctuation and a
/// member name, single-quoted so nothing in it is interpolated.
struct VtlPiece {
    name: String,
    literal: String,
}

/// The PutRecord request mapping template (VTL): the record contract's envelope, base64-encoded.
#[derive(Template)]
#[template(path = "vtl/put_record_request.vtl", escape = "none")]
pub struct PutRecordRequest {
    pieces: Vec<VtlPiece>,
    /// The envelope: the pieces and the request's values, in [`envelope::LAYOUT`]'s order.
    envelope: String,
    stream_name: String,
    /// The path parameter the partition key comes from, or `None` for the request id.
    partition_key_param: Option<String>,
}

/// The VTL expression for an envelope member's value (`None` for the version, a constant).
fn vtl_value(field: Field) -> Option<&'static str> {
    match field {
        Field::Version => None,
        Field::ReceivedAt => Some("$context.requestTimeEpoch"),
        Field::RequestId => Some("$context.requestId"),
        Field::SourceIp => Some("$context.identity.sourceIp"),
        Field::Body => Some("$input.body"),
    }
}

/// The envelope of [`envelope::LAYOUT`] as VTL: literal pieces (punctuation, member names, the version)
/// alternating with the request's values. `$context` values are inserted raw: a request id and an IP
/// address need no JSON escaping.
fn envelope_vtl() -> (Vec<VtlPiece>, String) {
    let mut pieces: Vec<VtlPiece> = Vec::new();
    let mut expression = String::new();
    let mut literal = String::from("{");
    for (i, field) in envelope::LAYOUT.iter().enumerate() {
        if i > 0 {
            literal.push(',');
        }
        literal.push_str(&json_string(field.name()));
        literal.push(':');
        match vtl_value(*field) {
            None => literal.push_str(&ENVELOPE_VERSION.to_string()),
            Some(value) => {
                let quoted = field.kind() == envelope::Kind::String;
                if quoted {
                    literal.push('"');
                }
                let name = format!("e{}", pieces.len());
                expression.push_str(&format!("${name}{value}"));
                pieces.push(VtlPiece {
                    name,
                    literal: std::mem::take(&mut literal),
                });
                if quoted {
                    literal.push('"');
                }
            }
        }
    }
    literal.push('}');
    let name = format!("e{}", pieces.len());
    expression.push_str(&format!("${name}"));
    pieces.push(VtlPiece { name, literal });
    (pieces, expression)
}

/// The integration response for PutRecord's success: `{"SequenceNumber":…,"ShardId":…}`.
#[derive(Template)]
#[template(path = "vtl/put_record_ok.vtl", escape = "none")]
pub(crate) struct PutRecordOk;

/// The integration response for PutRecord's failures: picks the error contract's status and body from
/// Kinesis's `__type` and message.
#[derive(Template)]
#[template(path = "vtl/put_record_error.vtl", escape = "none")]
pub struct PutRecordError {
    throttled: ErrorView,
    too_large: ErrorView,
    max_record_bytes: usize,
    invalid_partition_key: ErrorView,
    stream_not_found: ErrorView,
    backend: ErrorView,
}

impl PutRecordError {
    pub fn new() -> Self {
        PutRecordError {
            throttled: ApiError::Throttled.into(),
            too_large: ApiError::RecordTooLarge.into(),
            max_record_bytes: MAX_RECORD_BYTES,
            invalid_partition_key: ApiError::InvalidPartitionKey.into(),
            stream_not_found: ApiError::StreamNotFound.into(),
            backend: ApiError::BackendError.into(),
        }
    }
}

impl Default for PutRecordError {
    fn default() -> Self {
        Self::new()
    }
}

/// A gateway response body (API Gateway substitutes `$context` variables in it, no other VTL).
#[derive(Template)]
#[template(path = "vtl/gateway_response.vtl", escape = "none")]
pub(crate) struct GatewayResponseBody {
    error: ErrorView,
}

impl GatewayResponseBody {
    pub(crate) fn new(error: ApiError) -> Self {
        if error == ApiError::BadRequestBody {
            // The only gateway response whose message says what failed.
            return GatewayResponseBody {
                error: ErrorView {
                    message: sluice_contract::api::bad_request_body_message(
                        VALIDATION_ERROR_STRING,
                    ),
                    ..error.into()
                },
            };
        }
        if error == ApiError::Throttled {
            // API Gateway's own throttling (the stage's limits); the stream's 429 is the mapping's.
            return GatewayResponseBody {
                error: ErrorView {
                    message: sluice_contract::api::Throttle::Stage.message().into(),
                    ..error.into()
                },
            };
        }
        GatewayResponseBody {
            error: error.into(),
        }
    }

    /// The bodies of API Gateway's catch-all responses (`DEFAULT_4XX`, `DEFAULT_5XX`), which the error
    /// contract has no row for.
    pub(crate) fn default_for(kind: &str) -> Self {
        let error = if kind == "DEFAULT_4XX" {
            ErrorView {
                status: 400,
                code: sluice_contract::api::DEFAULT_4XX_CODE,
                message: sluice_contract::api::DEFAULT_4XX_MESSAGE.into(),
            }
        } else {
            ApiError::BackendError.into()
        };
        GatewayResponseBody { error }
    }
}

/// Renders a template that is part of another file (a mapping template, a response body).
pub(crate) fn render_template<T: Template>(t: &T, name: &str) -> Result<String, GenError> {
    t.render().map_err(|source| GenError::Render {
        file: name.into(),
        source,
    })
}

/// The request template of a route writing to `stream` (a logical name).
pub fn request_template(
    p: &Pipeline,
    route: &sluice_config::Route,
    stream: &str,
) -> Result<String, GenError> {
    let (pieces, envelope) = envelope_vtl();
    let t = PutRecordRequest {
        pieces,
        envelope,
        stream_name: p.streams[stream].physical_name.clone(),
        partition_key_param: match &route.partition_key {
            PartitionKeySource::PathParam(param) => Some(param.clone()),
            PartitionKeySource::RequestId => None,
        },
    };
    t.render().map_err(|source| GenError::Render {
        file: "vtl/put_record_request.vtl".into(),
        source,
    })
}

/// The error integration response template.
pub fn error_template() -> Result<String, GenError> {
    PutRecordError::new()
        .render()
        .map_err(|source| GenError::Render {
            file: "vtl/put_record_error.vtl".into(),
            source,
        })
}

/// The errors the PutRecord integration response picks from Kinesis's answer (`put_record_error.vtl`).
pub const KINESIS_ERRORS: [ApiError; 5] = [
    ApiError::Throttled,
    ApiError::RecordTooLarge,
    ApiError::InvalidPartitionKey,
    ApiError::StreamNotFound,
    ApiError::BackendError,
];
