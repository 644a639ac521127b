//! The error contract (status, code, message of every failure the gateway answers with) and the success
//! reply. The generator renders the API Gateway gateway responses and integration responses from these
//! tables; the local gateway answers from them.

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_PARTITION_KEY_CHARS, MAX_RECORD_BYTES};

/// Every failure the gateway can answer with, in the order of docs/CONTRACTS.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiError {
    Unauthorized,
    AccessDenied,
    NotFound,
    UnsupportedMediaType,
    BadRequestBody,
    RecordTooLarge,
    InvalidPartitionKey,
    Throttled,
    StreamNotFound,
    BackendError,
    RequestTimeout,
    StorageFull,
}

impl ApiError {
    pub const ALL: [ApiError; 12] = [
        ApiError::Unauthorized,
        ApiError::AccessDenied,
        ApiError::NotFound,
        ApiError::UnsupportedMediaType,
        ApiError::BadRequestBody,
        ApiError::RecordTooLarge,
        ApiError::InvalidPartitionKey,
        ApiError::Throttled,
        ApiError::StreamNotFound,
        ApiError::BackendError,
        ApiError::RequestTimeout,
        ApiError::StorageFull,
    ];

    pub fn status(self) -> u16 {
        match self {
            ApiError::Unauthorized => 401,
            ApiError::AccessDenied => 403,
            ApiError::NotFound | ApiError::StreamNotFound => 404,
            ApiError::UnsupportedMediaType => 415,
            ApiError::BadRequestBody | ApiError::InvalidPartitionKey => 400,
            ApiError::RecordTooLarge => 413,
            ApiError::Throttled => 429,
            ApiError::BackendError => 502,
            ApiError::RequestTimeout => 408,
            ApiError::StorageFull => 503,
        }
    }

    /// The `error` member.
    pub fn code(self) -> &'static str {
        match self {
            ApiError::Unauthorized => "Unauthorized",
            ApiError::AccessDenied => "AccessDenied",
            ApiError::NotFound => "NotFound",
            ApiError::UnsupportedMediaType => "UnsupportedMediaType",
            ApiError::BadRequestBody => "BadRequestBody",
            ApiError::RecordTooLarge => "RecordTooLarge",
            ApiError::InvalidPartitionKey => "InvalidPartitionKey",
            ApiError::Throttled => "Throttled",
            ApiError::StreamNotFound => "StreamNotFound",
            ApiError::BackendError => "BackendError",
            ApiError::RequestTimeout => "RequestTimeout",
            ApiError::StorageFull => "StorageFull",
        }
    }

    /// The `message` member: fixed text, the same on AWS and locally (no request data in it) — except
    /// `BadRequestBody`'s, which is [`bad_request_body_message`] with what failed.
    pub fn message(self) -> &'static str {
        match self {
            ApiError::Unauthorized => {
                "send HTTP Basic credentials: Authorization: Basic base64(username:password)"
            }
            ApiError::AccessDenied => "the credentials are not valid for this API",
            ApiError::NotFound => {
                "no route matches this method and path (a stream name must be one the pipeline declares)"
            }
            ApiError::UnsupportedMediaType => {
                "the request's Content-Type is not the one this route accepts"
            }
            ApiError::BadRequestBody => BAD_REQUEST_BODY,
            ApiError::RecordTooLarge => {
                "the record is over Kinesis's 1 MiB (1048576 bytes) record limit"
            }
            ApiError::InvalidPartitionKey => {
                "the partition key is over Kinesis's 256-character limit"
            }
            ApiError::Throttled => "the stream is over its throughput; retry with backoff",
            ApiError::StreamNotFound => "the stream does not exist",
            ApiError::BackendError => "the stream could not take the record; retry later",
            ApiError::RequestTimeout => "the request body did not arrive in time",
            ApiError::StorageFull => {
                "the local store's disk is full; nothing was stored; retry with backoff"
            }
        }
    }

    /// The API Gateway gateway-response type that produces this error, where one does.
    pub fn gateway_response_types(self) -> &'static [&'static str] {
        match self {
            ApiError::Unauthorized => &["UNAUTHORIZED"],
            ApiError::AccessDenied => &["ACCESS_DENIED"],
            ApiError::NotFound => &["MISSING_AUTHENTICATION_TOKEN", "RESOURCE_NOT_FOUND"],
            ApiError::UnsupportedMediaType => &["UNSUPPORTED_MEDIA_TYPE"],
            ApiError::BadRequestBody => &["BAD_REQUEST_BODY"],
            ApiError::Throttled => &["THROTTLED", "QUOTA_EXCEEDED"],
            _ => &[],
        }
    }

    /// The JSON body for a request id.
    pub fn body(self, request_id: &str) -> ErrorBody<'_> {
        ErrorBody {
            error: self.code(),
            message: self.message(),
            request_id,
        }
    }

    /// The JSON body with another message (`BadRequestBody`'s, which says what failed).
    pub fn body_with_message<'a>(self, message: &'a str, request_id: &'a str) -> ErrorBody<'a> {
        ErrorBody {
            error: self.code(),
            message,
            request_id,
        }
    }
}

/// The `error` of API Gateway's catch-all 4xx answer (`DEFAULT_4XX`): a request refused for a reason the error
/// table has no row for (a request line or header that does not parse, a URI too long, too many headers).
pub const DEFAULT_4XX_CODE: &str = "BadRequest";
/// Its `message`.
pub const DEFAULT_4XX_MESSAGE: &str = "the gateway refused the request";

/// API Gateway's catch-all answers (`DEFAULT_4XX`, `DEFAULT_5XX`) keep API Gateway's status and answer in the
/// contract's shape: a 4xx with [`DEFAULT_4XX_CODE`], a 5xx (e.g. 500 when the authorizer fails, as it does
/// when it cannot read the credentials) with [`ApiError::BackendError`]'s code and message.
pub fn default_body(status: u16, request_id: &str) -> ErrorBody<'_> {
    if (400..500).contains(&status) {
        ErrorBody {
            error: DEFAULT_4XX_CODE,
            message: DEFAULT_4XX_MESSAGE,
            request_id,
        }
    } else {
        ApiError::BackendError.body(request_id)
    }
}

/// The status API Gateway answers when the authorizer fails (its function errors or times out; the deployed
/// authorizer fails when it cannot read the credentials): 500, with [`default_body`].
pub const AUTHORIZER_FAILURE_STATUS: u16 = 500;

/// Which limit a 429 `Throttled` met: the code is the same, the message says which, so a client (and the
/// person reading its log) knows whether to slow down everywhere, from this address, or on this stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// AWS WAF's rate rule: too many requests from one source address in 5 minutes.
    Waf,
    /// The stage's throttle (`throttle_rate_limit`/`throttle_burst_limit`): API Gateway's `THROTTLED` and
    /// `QUOTA_EXCEEDED` gateway responses.
    Stage,
    /// The stream's shards (Kinesis's `ProvisionedThroughputExceededException`): [`ApiError::message`].
    Stream,
}

impl Throttle {
    /// The 429 answer's `message`.
    pub fn message(self) -> &'static str {
        match self {
            Throttle::Waf => {
                "too many requests from this address (the web ACL's rate rule); retry in a few minutes"
            }
            Throttle::Stage => {
                "the API is over its request rate (the stage's throttle); retry with backoff"
            }
            Throttle::Stream => ApiError::Throttled.message(),
        }
    }

    /// The 429 answer's JSON body.
    pub fn body(self, request_id: &str) -> ErrorBody<'_> {
        ApiError::Throttled.body_with_message(self.message(), request_id)
    }
}

/// The start of `BadRequestBody`'s message; [`bad_request_body_message`] adds what failed.
pub const BAD_REQUEST_BODY: &str = "the body does not match the route's JSON Schema";

/// `BadRequestBody`'s message: [`BAD_REQUEST_BODY`], `: `, and API Gateway's validation error string
/// (`$context.error.validationErrorString`, e.g. `[object has missing required properties (["message"])]`;
/// `sluice-schema` words it the same way locally).
pub fn bad_request_body_message(validation_error: &str) -> String {
    format!("{BAD_REQUEST_BODY}: {validation_error}")
}

/// The error body's member names.
pub mod member {
    pub const ERROR: &str = "error";
    pub const MESSAGE: &str = "message";
    /// The gateway's request id, the same one the envelope carries.
    pub const REQUEST_ID: &str = crate::envelope::member::REQUEST_ID;
}

/// `{"error":"…","message":"…","requestId":"…"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    pub message: &'a str,
    pub request_id: &'a str,
}

impl Serialize for ErrorBody<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("ErrorBody", 3)?;
        s.serialize_field(member::ERROR, self.error)?;
        s.serialize_field(member::MESSAGE, self.message)?;
        s.serialize_field(member::REQUEST_ID, self.request_id)?;
        s.end()
    }
}

/// The success body: Kinesis PutRecord's answer, trimmed to what the client needs.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PutRecordReply {
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
    #[serde(rename = "ShardId")]
    pub shard_id: String,
}

/// What the gateway checks before the record reaches Kinesis, in the order API Gateway applies them after
/// routing and auth: the content type (here), the body against the route's model (`sluice-schema`, 400
/// `BadRequestBody`), then the record limits Kinesis enforces ([`check_partition_key`], [`record_too_large`]).
pub fn check_content_type(content_type: Option<&str>, accepted: &str) -> Result<(), ApiError> {
    let media = content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if media.as_deref() != Some(accepted) {
        return Err(ApiError::UnsupportedMediaType);
    }
    Ok(())
}

/// Kinesis's partition key limit (characters).
pub fn check_partition_key(partition_key: &str) -> Result<(), ApiError> {
    if partition_key.chars().count() > MAX_PARTITION_KEY_CHARS {
        return Err(ApiError::InvalidPartitionKey);
    }
    Ok(())
}

/// Whether a record of this data and partition key is over Kinesis's record limit.
pub fn record_too_large(data: &[u8], partition_key: &str) -> bool {
    data.len() + partition_key.len() > MAX_RECORD_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_checks_follow_the_error_contract() {
        let json = "application/json";
        assert_eq!(check_content_type(Some(json), json), Ok(()));
        assert_eq!(
            check_content_type(Some("application/json; charset=utf-8"), json),
            Ok(())
        );
        assert_eq!(
            check_content_type(Some("text/plain"), json),
            Err(ApiError::UnsupportedMediaType)
        );
        assert_eq!(
            check_content_type(None, json),
            Err(ApiError::UnsupportedMediaType)
        );
        assert_eq!(
            check_partition_key(&"k".repeat(257)),
            Err(ApiError::InvalidPartitionKey)
        );
        assert_eq!(check_partition_key(&"é".repeat(256)), Ok(()));
        assert_eq!(
            bad_request_body_message("[object has missing required properties ([\"m\"])]"),
            "the body does not match the route's JSON Schema: [object has missing required properties ([\"m\"])]"
        );
    }

    #[test]
    fn the_error_body_has_the_contract_shape() {
        let body = serde_json::to_string(&ApiError::Throttled.body("r-1")).unwrap();
        assert_eq!(
            body,
            format!(
                "{{\"error\":\"Throttled\",\"message\":{},\"requestId\":\"r-1\"}}",
                serde_json::to_string(ApiError::Throttled.message()).unwrap()
            )
        );
    }

    #[test]
    fn every_error_has_a_distinct_code_and_an_error_status() {
        let mut codes: Vec<_> = ApiError::ALL.iter().map(|e| e.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ApiError::ALL.len());
        assert!(
            ApiError::ALL
                .iter()
                .all(|e| (400..600).contains(&e.status()))
        );
    }
}
