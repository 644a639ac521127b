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
}

impl ApiError {
    pub const ALL: [ApiError; 11] = [
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
        }
    }

    /// The `message` member: fixed text, the same on AWS and locally (no request data in it).
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
            ApiError::BadRequestBody => "the body must be a JSON object",
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
/// routing and auth: content type, body shape, then the record limits Kinesis enforces.
pub fn check_request(
    content_type: Option<&str>,
    accepted: &str,
    body: &str,
    partition_key: &str,
) -> Result<(), ApiError> {
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
    match serde_json::from_str::<serde::de::IgnoredAny>(body) {
        Ok(_) if body.trim_start().starts_with('{') => {}
        _ => return Err(ApiError::BadRequestBody),
    }
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
        let ok = "{\"x\":1}";
        assert_eq!(
            check_request(Some("application/json"), "application/json", ok, "k"),
            Ok(())
        );
        assert_eq!(
            check_request(
                Some("application/json; charset=utf-8"),
                "application/json",
                ok,
                "k"
            ),
            Ok(())
        );
        assert_eq!(
            check_request(Some("text/plain"), "application/json", ok, "k"),
            Err(ApiError::UnsupportedMediaType)
        );
        assert_eq!(
            check_request(None, "application/json", ok, "k"),
            Err(ApiError::UnsupportedMediaType)
        );
        assert_eq!(
            check_request(Some("application/json"), "application/json", "[1]", "k"),
            Err(ApiError::BadRequestBody)
        );
        assert_eq!(
            check_request(Some("application/json"), "application/json", "{", "k"),
            Err(ApiError::BadRequestBody)
        );
        assert_eq!(
            check_request(
                Some("application/json"),
                "application/json",
                ok,
                &"k".repeat(257)
            ),
            Err(ApiError::InvalidPartitionKey)
        );
        assert_eq!(
            check_request(
                Some("application/json"),
                "application/json",
                ok,
                &"é".repeat(256)
            ),
            Ok(())
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
