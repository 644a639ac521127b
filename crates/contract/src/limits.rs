//! AWS's limits that the contracts are built on. Each is AWS's own number; the message of the check that
//! enforces it names it.

/// Kinesis's limit on a record: data blob plus partition key, in bytes (1 MiB).
pub const MAX_RECORD_BYTES: usize = 1_048_576;

/// Kinesis's limit on a partition key, in Unicode characters.
pub const MAX_PARTITION_KEY_CHARS: usize = 256;

/// API Gateway's limit on a request payload (10 MB): the most body a gateway reads.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// DynamoDB's item size limit (400 KB).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// DynamoDB's limit on a partition key value, in bytes.
pub const MAX_PARTITION_KEY_VALUE_BYTES: usize = 2048;

/// DynamoDB's limit on a sort key value, in bytes.
pub const MAX_SORT_KEY_VALUE_BYTES: usize = 1024;

/// DynamoDB's `BatchWriteItem` limit: items per call. The writer puts items with conditional `PutItem`s
/// (the ordering rule) and hands its table seam chunks of this many.
pub const MAX_BATCH_WRITE_ITEMS: usize = 25;

/// Lambda's limit on a synchronous invocation payload (6 MB): an event source mapping cuts a batch before it.
pub const MAX_INVOCATION_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Kinesis: records a shard accepts per second (PutRecord), beyond which it throttles.
pub const SHARD_WRITE_RECORDS_PER_SECOND: u64 = 1_000;

/// Kinesis: bytes (data plus partition key) a shard accepts per second, beyond which it throttles (1 MiB).
pub const SHARD_WRITE_BYTES_PER_SECOND: u64 = 1_048_576;

/// Kinesis: bytes a shard gives out per second to its readers (shared by every consumer of the stream).
pub const SHARD_READ_BYTES_PER_SECOND: u64 = 2 * 1_048_576;

/// Kinesis: `GetRecords` calls a shard answers per second (shared by every consumer of the stream).
pub const SHARD_READS_PER_SECOND: u64 = 5;

/// Kinesis: the shards an on-demand stream starts with (it scales from there).
pub const ON_DEMAND_INITIAL_SHARDS: u32 = 4;

/// DynamoDB: the item size one write capacity unit writes per second (sizes round up to it).
pub const WRITE_UNIT_BYTES: usize = 1024;

/// DynamoDB: how many seconds of unused provisioned capacity a table keeps as burst capacity.
pub const BURST_CAPACITY_SECONDS: u64 = 300;

/// The most bytes a message on a dead-letter queue may have: the generated queues' `max_message_size`,
/// SQS's default. (SQS itself now takes up to 1 MiB, but the pinned `hashicorp/aws` 5.x provider refuses a
/// larger `max_message_size`.) A dead-letter message (JSON, the record's data base64 inside) over this
/// goes to the dead-letter bucket and the queue gets a message pointing at it.
pub const MAX_DEAD_LETTER_MESSAGE_BYTES: usize = 262_144;

/// The most characters of a dead-letter message's `detail`: longer details are cut, so a message that
/// points at the bucket always fits [`MAX_DEAD_LETTER_MESSAGE_BYTES`].
pub const MAX_DEAD_LETTER_DETAIL_CHARS: usize = 2048;
