//! The environment variables the functions read: set by the generated Terraform (which renders these
//! names), read by the functions' `main`s.

/// Writer: the physical name of the table to write.
pub const TABLE_NAME: &str = "TABLE_NAME";
/// Writer: the table's partition key attribute name.
pub const PARTITION_KEY_NAME: &str = "PARTITION_KEY_NAME";
/// Writer: the partition key's type, `S` or `N` (default `S`).
pub const PARTITION_KEY_TYPE: &str = "PARTITION_KEY_TYPE";
/// Writer: the table's sort key attribute name, if it has one.
pub const SORT_KEY_NAME: &str = "SORT_KEY_NAME";
/// Writer: the sort key's type, `S` or `N` (default `S`).
pub const SORT_KEY_TYPE: &str = "SORT_KEY_TYPE";
/// Writer: the URL of the dead-letter queue for records that can never be stored.
pub const DEAD_LETTER_QUEUE_URL: &str = "DEAD_LETTER_QUEUE_URL";
/// Writer: the name of the dead-letter bucket, which holds the data of dead letters too large for the queue.
pub const DEAD_LETTER_BUCKET: &str = "DEAD_LETTER_BUCKET";
/// Consumer function: the tables it may write, a JSON object from each logical table name (pipeline.toml's)
/// to `{"name": <physical name>, "partitionKey": {"name", "type"}, "sortKey": {…}}` (`sortKey` optional).
pub const CONSUMER_TABLES: &str = "SLUICE_TABLES";
/// Authorizer: the ARN or name of the secret holding the Basic credentials.
pub const SECRET_ID: &str = "SECRET_ID";
/// Authorizer: how long after a rotation the previous password (`AWSPREVIOUS`) is still accepted, counted from
/// the creation of the current version, in seconds (0 = never).
pub const PREVIOUS_PASSWORD_GRACE_SECONDS: &str = "PREVIOUS_PASSWORD_GRACE_SECONDS";
/// Any function, locally only: `host:port` of `cargo xtask dev`'s function server, which serves the Lambda
/// Runtime API and the function's tables, queues and bucket over loopback HTTP. Unset on AWS; when set, the
/// stock writer writes through it instead of DynamoDB, SQS and S3 (`sluice_writer::local`).
pub const SLUICE_LOCAL_ENDPOINT: &str = "SLUICE_LOCAL_ENDPOINT";
