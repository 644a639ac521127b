//! The seams over loopback HTTP, for a function binary run by `cargo xtask dev` as a process: dev serves its
//! SQLite tables, queues and bucket (the one local implementation, ordering rule included) on the same
//! server as the function's Lambda Runtime API, at `$SLUICE_LOCAL_ENDPOINT`
//! ([`sluice_contract::env::SLUICE_LOCAL_ENDPOINT`]). The wire shapes below are always compiled (dev's
//! server reads them); the clients [`LocalTable`] and [`LocalDeadLetters`] need the `local` feature.
//!
//! - `POST /sluice-local/tables/{table}/put-items`: a JSON array of items → a JSON array of
//!   [`WriteOutcome`]s, one per item, in order.
//! - `POST /sluice-local/queues/{queue}/messages`: a [`DeadLetterMessage`] → `200`, or `413` when the queue
//!   refuses it for its size ([`ConsumerError::DeadLetterTooLarge`]).
//! - `POST /sluice-local/buckets/{bucket}/objects`: an [`ObjectPut`] → `200` with the bucket's name.

use serde::{Deserialize, Serialize};

/// The path prefix of the local seams.
pub const PREFIX: &str = "/sluice-local";

/// Where dev's function server is (`host:port`): set, the binary writes through it.
pub const ENDPOINT_ENV: &str = sluice_contract::env::SLUICE_LOCAL_ENDPOINT;
/// The dead-letter queue URL and bucket, as the generated Terraform names them.
pub const QUEUE_URL_ENV: &str = sluice_contract::env::DEAD_LETTER_QUEUE_URL;
pub const BUCKET_ENV: &str = sluice_contract::env::DEAD_LETTER_BUCKET;

/// `put-items` of a table (its logical or physical name).
pub fn put_items_path(table: &str) -> String {
    format!("{PREFIX}/tables/{table}/put-items")
}

/// The messages of a queue (its logical or physical name).
pub fn messages_path(queue: &str) -> String {
    format!("{PREFIX}/queues/{queue}/messages")
}

/// The objects of a bucket.
pub fn objects_path(bucket: &str) -> String {
    format!("{PREFIX}/buckets/{bucket}/objects")
}

/// One object put into the dead-letter bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectPut {
    pub key: String,
    /// The bytes, base64 (standard alphabet, padded).
    pub data: String,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
}

/// The queue's name in a queue URL: its last path segment, as in SQS's `…/<account>/<name>`.
pub fn queue_name(queue_url: &str) -> &str {
    queue_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(queue_url)
}

#[cfg(feature = "local")]
pub use client::{LocalDeadLetters, LocalTable};

#[cfg(feature = "local")]
mod client {
    use std::sync::Arc;

    use base64::Engine as _;
    use http_body_util::BodyExt as _;
    use lambda_runtime_api_client::{Client, body::Body, build_request};

    use super::{ObjectPut, messages_path, objects_path, put_items_path, queue_name};
    use crate::hex;
    use crate::{
        ConsumerError, DeadLetterMessage, DeadLetters, Item, PutResult, Table, WriteOutcome,
    };

    /// An HTTP/1.1 client of dev's function server (the Runtime API client's own: no second HTTP stack).
    #[derive(Clone)]
    struct Endpoint(Arc<Client>);

    impl Endpoint {
        fn new(endpoint: &str) -> Result<Self, ConsumerError> {
            let invalid = || ConsumerError::InvalidSetting {
                name: sluice_contract::env::SLUICE_LOCAL_ENDPOINT,
                value: endpoint.to_owned(),
                expected: "host:port of cargo xtask dev's function server",
            };
            let uri = format!("http://{endpoint}")
                .parse()
                .map_err(|_| invalid())?;
            let client = Client::builder()
                .with_endpoint(uri)
                .build()
                .map_err(|_| invalid())?;
            Ok(Endpoint(Arc::new(client)))
        }

        /// POSTs `body` to `path`: the status and the answer's bytes, or why the call failed.
        async fn post(&self, path: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
            let request = build_request()
                .method("POST")
                .uri(path)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .map_err(|e| e.to_string())?;
            let response = self.0.call(request).await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((status, bytes.to_vec()))
        }
    }

    /// A table of `cargo xtask dev`, written through its function server (the ordering rule is the SQLite
    /// table's there). A call that fails makes every item a transient failure: the record is retried.
    #[derive(Clone)]
    pub struct LocalTable {
        endpoint: Endpoint,
        table: String,
    }

    impl LocalTable {
        /// `endpoint` is `$SLUICE_LOCAL_ENDPOINT`; `table` the table's name (`$TABLE_NAME`).
        pub fn new(endpoint: &str, table: impl Into<String>) -> Result<Self, ConsumerError> {
            Ok(LocalTable {
                endpoint: Endpoint::new(endpoint)?,
                table: table.into(),
            })
        }
    }

    impl Table for LocalTable {
        async fn put_items(&self, items: Vec<Item>) -> PutResult {
            let n = items.len();
            let body = match serde_json::to_vec(&items) {
                Ok(body) => body,
                Err(e) => return PutResult::all_transient(n, e.to_string()),
            };
            match self.endpoint.post(&put_items_path(&self.table), body).await {
                Ok((200, answer)) => match serde_json::from_slice::<Vec<WriteOutcome>>(&answer) {
                    Ok(outcomes) if outcomes.len() == n => PutResult { outcomes },
                    Ok(outcomes) => PutResult::all_transient(
                        n,
                        format!("dev answered {} outcomes for {n} items", outcomes.len()),
                    ),
                    Err(e) => PutResult::all_transient(n, format!("dev's answer: {e}")),
                },
                Ok((status, answer)) => PutResult::all_transient(
                    n,
                    format!(
                        "dev answered {status}: {}",
                        String::from_utf8_lossy(&answer)
                    ),
                ),
                Err(e) => PutResult::all_transient(n, format!("cannot reach dev: {e}")),
            }
        }
    }

    /// The dead-letter queue and bucket of `cargo xtask dev`, through its function server.
    #[derive(Clone)]
    pub struct LocalDeadLetters {
        endpoint: Endpoint,
        queue: String,
        bucket: String,
    }

    impl LocalDeadLetters {
        /// `queue_url` is `$DEAD_LETTER_QUEUE_URL` (its last segment names the queue), `bucket`
        /// `$DEAD_LETTER_BUCKET`.
        pub fn new(
            endpoint: &str,
            queue_url: &str,
            bucket: impl Into<String>,
        ) -> Result<Self, ConsumerError> {
            Ok(LocalDeadLetters {
                endpoint: Endpoint::new(endpoint)?,
                queue: queue_name(queue_url).to_owned(),
                bucket: bucket.into(),
            })
        }
    }

    impl DeadLetters for LocalDeadLetters {
        async fn send(&self, message: DeadLetterMessage) -> Result<(), ConsumerError> {
            let body = message.to_json().into_bytes();
            match self.endpoint.post(&messages_path(&self.queue), body).await {
                Ok((200, _)) => Ok(()),
                Ok((413, answer)) => Err(ConsumerError::DeadLetterTooLarge(
                    String::from_utf8_lossy(&answer).into_owned(),
                )),
                Ok((status, answer)) => Err(ConsumerError::DeadLetter(format!(
                    "dev answered {status}: {}",
                    String::from_utf8_lossy(&answer)
                ))),
                Err(e) => Err(ConsumerError::DeadLetter(format!("cannot reach dev: {e}"))),
            }
        }

        async fn store_data(
            &self,
            key: String,
            data: Vec<u8>,
            sha256: [u8; 32],
        ) -> Result<String, ConsumerError> {
            let put = ObjectPut {
                key,
                data: base64::engine::general_purpose::STANDARD.encode(&data),
                sha256: hex(&sha256),
            };
            let body = serde_json::to_vec(&put)
                .map_err(|e| ConsumerError::DeadLetterData(e.to_string()))?;
            match self.endpoint.post(&objects_path(&self.bucket), body).await {
                Ok((200, answer)) => Ok(String::from_utf8_lossy(&answer).into_owned()),
                Ok((status, answer)) => Err(ConsumerError::DeadLetterData(format!(
                    "dev answered {status}: {}",
                    String::from_utf8_lossy(&answer)
                ))),
                Err(e) => Err(ConsumerError::DeadLetterData(format!(
                    "cannot reach dev: {e}"
                ))),
            }
        }
    }
}
