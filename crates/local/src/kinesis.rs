//! Kinesis's arithmetic, as the local streams use it: which shard a partition key lands on, what a sequence
//! number looks like, the ARNs, and the `aws_lambda_events` record an event source mapping hands a function.

use aws_lambda_events::encodings::SecondTimestamp;
use aws_lambda_events::event::kinesis::{KinesisEncryptionType, KinesisEventRecord};
use chrono::{TimeZone as _, Utc};
use md5::{Digest as _, Md5};

/// The account id the local ARNs carry (no account is involved).
pub const LOCAL_ACCOUNT: &str = "000000000000";

/// Kinesis's shard id for the shard of index `index`: `shardId-000000000000`, `shardId-000000000001`, …
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// The shard index of a shard id made by [`shard_id`].
pub fn shard_index(shard_id: &str) -> Option<u32> {
    shard_id
        .strip_prefix("shardId-")
        .filter(|d| d.len() == 12)
        .and_then(|d| d.parse().ok())
}

/// The partition key's hash key: MD5 of its UTF-8 bytes, read as a 128-bit big-endian integer.
pub fn hash_key(partition_key: &str) -> u128 {
    let digest: [u8; 16] = Md5::digest(partition_key.as_bytes()).into();
    u128::from_be_bytes(digest)
}

/// The first hash key of shard `i` of `n` when a stream of `n` shards is split evenly (as `CreateStream` does):
/// `floor(i * 2^128 / n)`, for `i < n`.
pub fn starting_hash_key(i: u32, n: u32) -> u128 {
    if n <= 1 || i == 0 {
        return 0;
    }
    let n = u128::from(n);
    let i = u128::from(i.min(u32::try_from(n - 1).unwrap_or(u32::MAX)));
    // 2^128 = q * n + r, computed without overflowing u128.
    let (mut q, mut r) = (u128::MAX / n, u128::MAX % n + 1);
    if r == n {
        q += 1;
        r = 0;
    }
    i * q + (i * r) / n
}

/// The shard a partition key lands on, in a stream of `shard_count` evenly split shards: the shard whose
/// hash-key range `[i*2^128/n, (i+1)*2^128/n - 1]` holds the key's MD5.
pub fn shard_for(partition_key: &str, shard_count: u32) -> u32 {
    let n = shard_count.max(1);
    let h = hash_key(partition_key);
    // The largest i with starting_hash_key(i) <= h (binary search; n is at most a few hundred).
    let (mut lo, mut hi) = (0u32, n - 1);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if starting_hash_key(mid, n) <= h {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// Number of digits of a sequence number, as Kinesis's (56).
pub const SEQUENCE_NUMBER_DIGITS: usize = 56;

/// The sequence number of the `counter`-th record (from 1) of shard `shard`: 56 decimal digits,
/// `49` + the shard index (3 digits) + the counter (51 digits, zero-padded), so that numeric order, lexical
/// order and arrival order agree within a shard.
pub fn sequence_number(shard: u32, counter: i64) -> String {
    // Written digit by digit: `format!` pads with one `write_char` per zero, and every record, event and
    // checkpoint carries one of these (it showed as 1.5% of the pipeline's CPU under `cargo xtask bench`).
    let mut digits = [b'0'; SEQUENCE_NUMBER_DIGITS];
    digits[..2].copy_from_slice(b"49");
    write_decimal(&mut digits[2..5], u64::from(shard % 1000));
    write_decimal(&mut digits[5..], u64::try_from(counter).unwrap_or(0));
    digits.iter().copied().map(char::from).collect()
}

/// Writes `n` right-aligned into `field` (already zero-filled); a field too short keeps the low digits.
fn write_decimal(field: &mut [u8], mut n: u64) {
    for slot in field.iter_mut().rev() {
        // `n % 10` is below 10.
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
}

/// The counter of a sequence number made by [`sequence_number`].
pub fn sequence_counter(sequence_number: &str) -> Option<i64> {
    if sequence_number.len() != SEQUENCE_NUMBER_DIGITS || !sequence_number.starts_with("49") {
        return None;
    }
    sequence_number.get(5..)?.parse().ok()
}

/// `arn:aws:kinesis:<region>:000000000000:stream/<physical name>`.
pub fn stream_arn(region: &str, physical_name: &str) -> String {
    format!("arn:aws:kinesis:{region}:{LOCAL_ACCOUNT}:stream/{physical_name}")
}

/// `arn:aws:lambda:<region>:000000000000:function:<function name>`.
pub fn function_arn(region: &str, function_name: &str) -> String {
    format!("arn:aws:lambda:{region}:{LOCAL_ACCOUNT}:function:{function_name}")
}

/// A stored stream record, as the event source mapping reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub shard: u32,
    /// The per-shard counter (from 1) behind the sequence number.
    pub counter: i64,
    pub partition_key: String,
    pub data: Vec<u8>,
    /// `ApproximateArrivalTimestamp`, milliseconds since the epoch.
    pub arrival_ms: i64,
}

impl StoredRecord {
    pub fn sequence_number(&self) -> String {
        sequence_number(self.shard, self.counter)
    }
}

/// Where records come from, for building event records.
#[derive(Debug, Clone)]
pub struct EventSource {
    pub region: String,
    pub stream_arn: String,
    /// The execution role the function runs as (`invokeIdentityArn`).
    pub invoke_identity_arn: String,
}

/// The record exactly as Lambda's Kinesis event source mapping delivers it (`Records[i]` of the event).
pub fn event_record(source: &EventSource, record: &StoredRecord) -> KinesisEventRecord {
    let sequence_number = record.sequence_number();
    let mut out = KinesisEventRecord::default();
    out.aws_region = Some(source.region.clone());
    out.event_id = Some(format!("{}:{sequence_number}", shard_id(record.shard)));
    out.event_name = Some("aws:kinesis:record".to_owned());
    out.event_source = Some("aws:kinesis".to_owned());
    out.event_source_arn = Some(source.stream_arn.clone());
    out.event_version = Some("1.0".to_owned());
    out.invoke_identity_arn = Some(source.invoke_identity_arn.clone());
    out.kinesis.approximate_arrival_timestamp = SecondTimestamp(
        Utc.timestamp_millis_opt(record.arrival_ms)
            .single()
            .unwrap_or_default(),
    );
    out.kinesis.data.0 = record.data.clone();
    out.kinesis.encryption_type = KinesisEncryptionType::None;
    out.kinesis.partition_key = record.partition_key.clone();
    out.kinesis.sequence_number = sequence_number;
    out.kinesis.kinesis_schema_version = Some("1.0".to_owned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_hash_key_space_evenly() {
        assert_eq!(starting_hash_key(0, 4), 0);
        assert_eq!(starting_hash_key(1, 4), 1u128 << 126);
        assert_eq!(
            starting_hash_key(1, 3),
            113_427_455_640_312_821_154_458_202_477_256_070_485
        );
        assert_eq!(starting_hash_key(1, 1), 0);
    }

    #[test]
    fn a_partition_key_lands_where_kinesis_puts_it() {
        // MD5("a") = 0cc175b9c0f1b6a831c399e269772661: below 2^126, so shard 0 of 4; of 16 shards,
        // its first hex digit (0) says shard 0 too.
        assert_eq!(shard_for("a", 4), 0);
        // MD5("b") = 92eb5ffee6ae2fec3ad71c777531578f: 0x9… of 16 → shard 9; of 2 → shard 1.
        assert_eq!(shard_for("b", 16), 9);
        assert_eq!(shard_for("b", 2), 1);
        assert_eq!(shard_for("anything", 1), 0);
        for n in [1, 2, 3, 7, 500] {
            for k in ["x", "y", "55ad376f-86bf-4b06-9d3a-23237464dbd4"] {
                let s = shard_for(k, n);
                assert!(s < n);
                let h = hash_key(k);
                assert!(starting_hash_key(s, n) <= h);
                if s + 1 < n {
                    assert!(h < starting_hash_key(s + 1, n));
                }
            }
        }
    }

    #[test]
    fn sequence_numbers_order_like_their_counters() {
        let a = sequence_number(3, 9);
        let b = sequence_number(3, 10);
        assert_eq!(a.len(), SEQUENCE_NUMBER_DIGITS);
        assert!(a < b);
        assert_eq!(sequence_counter(&b), Some(10));
        for (shard, counter) in [
            (0, 0),
            (3, 9),
            (999, 1),
            (1000, 7),
            (1234, i64::MAX),
            (7, -5),
        ] {
            assert_eq!(
                sequence_number(shard, counter),
                format!("49{:03}{:051}", shard % 1000, counter.max(0)),
                "shard {shard}, counter {counter}"
            );
        }
        assert_eq!(sequence_counter("12"), None);
        assert_eq!(shard_index(&shard_id(42)), Some(42));
    }
}
