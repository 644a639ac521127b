//! What the edges of a sluice pipeline agree on, written once (`docs/CONTRACTS.md` describes it in words):
//!
//! - [`envelope`]: the bytes the gateway puts into a Kinesis record, and how the writer reads them back;
//! - [`api`]: the error contract (status, code, message of every failure) and the success reply;
//! - [`consumer`]: what the writer does with a record it can never store (reason, dead-letter message);
//! - [`writer`]: the item attributes the writer sets and the key types;
//! - [`env`]: the environment variables the functions read;
//! - [`limits`]: AWS's limits the contract is built on;
//! - [`metrics`]: the writer's CloudWatch metrics (namespace, dimension, names) the alarms read.
//!
//! The generator renders the API Gateway mapping templates from these definitions, the local runtime answers
//! and stores with them, and the Lambda functions read them: nothing here is typed twice. serde only, no AWS
//! SDK, so every crate of the workspace can depend on it.

pub mod api;
pub mod consumer;
pub mod env;
pub mod envelope;
pub mod limits;
pub mod metrics;
pub mod writer;

pub use api::{ApiError, ErrorBody, PutRecordReply};
pub use consumer::{
    Condition, DataLocation, DeadLetterMessage, MessageError, OnFailureMessage, Permanent,
    QueueMessage, Reason, RecordData,
};
pub use envelope::Envelope;
pub use writer::{KeyAttribute, KeyType};
