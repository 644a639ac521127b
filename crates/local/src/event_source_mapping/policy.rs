//! The event source mapping's rules as pure functions: how a batch is cut, which records are too old, what
//! an invocation's answer means, and what to do next (done, bisect, retry after a backoff, give up). The
//! I/O loop in the parent module only reads, invokes, sleeps and writes as these say.

use std::time::Duration;

use aws_lambda_events::event::streams::KinesisEventResponse;
use sluice_config::{Attempts, RecordAge};

/// Why records went to the on-failure destination (AWS's `requestContext.condition`).
pub use sluice_contract::Condition;

/// How the last invocation of a batch ended (for the on-failure message's `responseContext`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastResponse {
    NotInvoked,
    Returned,
    FunctionError,
}

/// What an invocation's answer means for the batch it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every record is done.
    Succeeded,
    /// The records before `first_failed` are done; from it on, the batch is retried (a partial batch
    /// response; `first_failed` is 0 when the response was malformed).
    PartialFailure { first_failed: usize },
    /// An `Err`, a panic or a timeout: nothing is done.
    FunctionError,
}

impl Outcome {
    /// How many records at the front of the batch are done.
    pub fn done(self, batch_len: usize) -> usize {
        match self {
            Outcome::Succeeded => batch_len,
            Outcome::PartialFailure { first_failed } => first_failed.min(batch_len),
            Outcome::FunctionError => 0,
        }
    }

    /// The `responseContext` kind this outcome leaves.
    pub fn last_response(self) -> LastResponse {
        match self {
            Outcome::FunctionError => LastResponse::FunctionError,
            _ => LastResponse::Returned,
        }
    }
}

/// Reads a function's answer to a batch whose records have `sequence_numbers` (in batch order).
///
/// A partial batch response names failed records; the batch is retried from the lowest one. An identifier
/// that is null, empty or not in the batch makes the whole batch failed, as on AWS.
pub fn outcome(sequence_numbers: &[String], answer: Result<&KinesisEventResponse, ()>) -> Outcome {
    let Ok(response) = answer else {
        return Outcome::FunctionError;
    };
    let mut lowest: Option<usize> = None;
    for failure in &response.batch_item_failures {
        let index = failure
            .item_identifier
            .as_deref()
            .filter(|id| !id.is_empty())
            .and_then(|id| sequence_numbers.iter().position(|s| s == id));
        let Some(index) = index else {
            return Outcome::PartialFailure { first_failed: 0 };
        };
        lowest = Some(lowest.map_or(index, |l| l.min(index)));
    }
    match lowest {
        None => Outcome::Succeeded,
        Some(first_failed) => Outcome::PartialFailure { first_failed },
    }
}

/// The consumer's retry settings, as the policy needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub retry_attempts: Attempts,
    pub bisect_on_error: bool,
    /// Wait before the first retry; doubled for each further one …
    pub backoff_initial: Duration,
    /// … up to this.
    pub backoff_max: Duration,
}

/// What to do with the records still pending after an invocation (those from the first not done on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing is left.
    Done,
    /// Split the pending records at `at` and process both halves, the first one first. Splitting does not use
    /// up a retry (as on AWS).
    Bisect { at: usize },
    /// Invoke again with the pending records after `backoff`; the retry count goes up by one.
    Retry { backoff: Duration },
    /// Out of retries: the pending records go to the on-failure destination.
    GiveUp,
}

/// The next step for `pending` records left after an invocation that ended in `outcome`, when `retries_used`
/// retries of them have been made.
pub fn next_step(
    policy: &RetryPolicy,
    outcome: Outcome,
    pending: usize,
    retries_used: u32,
) -> Next {
    if pending == 0 {
        return Next::Done;
    }
    if outcome == Outcome::FunctionError && policy.bisect_on_error && pending > 1 {
        return Next::Bisect { at: pending / 2 };
    }
    if policy.retry_attempts.exhausted_by(retries_used) {
        return Next::GiveUp;
    }
    Next::Retry {
        backoff: backoff(policy, retries_used + 1),
    }
}

/// The wait before retry number `retry` (from 1): the initial backoff, doubled each time, capped.
pub fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    policy
        .backoff_initial
        .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
        .min(policy.backoff_max)
}

/// Splits records into those older than the maximum record age at `now_ms` (by their arrival time) and the
/// rest, each keeping its order.
pub fn split_expired<T>(
    records: Vec<T>,
    arrival_ms: impl Fn(&T) -> i64,
    max_age: RecordAge,
    now_ms: i64,
) -> (Vec<T>, Vec<T>) {
    match max_age.as_millis() {
        None => (Vec::new(), records),
        Some(age) => {
            let cutoff = now_ms - age;
            records.into_iter().partition(|r| arrival_ms(r) < cutoff)
        }
    }
}

/// How many of the buffered records (their invocation payload sizes, in order) go into the next batch: at
/// most `batch_size`, and no more than fit in `max_payload` bytes — but always at least one.
pub fn batch_len(
    sizes: impl IntoIterator<Item = usize>,
    batch_size: usize,
    max_payload: usize,
) -> usize {
    let mut take = 0;
    let mut bytes = 0;
    for size in sizes.into_iter().take(batch_size.max(1)) {
        bytes += size;
        if take > 0 && bytes > max_payload {
            break;
        }
        take += 1;
    }
    take
}

/// A record's share of the invocation payload: its data base64-encoded, its partition key, and about 300
/// bytes of the record's other members.
pub fn payload_size(data_len: usize, partition_key_len: usize) -> usize {
    data_len.div_ceil(3) * 4 + partition_key_len + 300
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::streams::KinesisBatchItemFailure;

    use super::*;

    fn seqs(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("s{i}")).collect()
    }

    fn response(ids: &[Option<&str>]) -> KinesisEventResponse {
        let mut r = KinesisEventResponse::default();
        for id in ids {
            let mut f = KinesisBatchItemFailure::default();
            f.item_identifier = id.map(str::to_owned);
            r.batch_item_failures.push(f);
        }
        r
    }

    const POLICY: RetryPolicy = RetryPolicy {
        retry_attempts: Attempts::Finite(2),
        bisect_on_error: true,
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(350),
    };

    #[test]
    fn a_partial_batch_response_retries_from_the_lowest_failure() {
        let s = seqs(5);
        assert_eq!(outcome(&s, Ok(&response(&[]))), Outcome::Succeeded);
        assert_eq!(
            outcome(&s, Ok(&response(&[Some("s4"), Some("s2")]))),
            Outcome::PartialFailure { first_failed: 1 }
        );
        assert_eq!(Outcome::PartialFailure { first_failed: 1 }.done(5), 1);
        assert_eq!(outcome(&s, Err(())), Outcome::FunctionError);
        assert_eq!(Outcome::FunctionError.done(5), 0);
    }

    #[test]
    fn a_malformed_partial_batch_response_fails_the_whole_batch() {
        let s = seqs(3);
        for bad in [None, Some(""), Some("not-in-the-batch")] {
            assert_eq!(
                outcome(&s, Ok(&response(&[Some("s3"), bad]))),
                Outcome::PartialFailure { first_failed: 0 },
                "{bad:?}"
            );
        }
    }

    #[test]
    fn function_errors_bisect_until_one_record_is_left_without_using_retries() {
        assert_eq!(
            next_step(&POLICY, Outcome::FunctionError, 10, 0),
            Next::Bisect { at: 5 }
        );
        assert_eq!(
            next_step(&POLICY, Outcome::FunctionError, 3, 2),
            Next::Bisect { at: 1 }
        );
        // One record cannot be split: it uses retries.
        assert_eq!(
            next_step(&POLICY, Outcome::FunctionError, 1, 0),
            Next::Retry {
                backoff: Duration::from_millis(100)
            }
        );
        let no_bisect = RetryPolicy {
            bisect_on_error: false,
            ..POLICY
        };
        assert!(matches!(
            next_step(&no_bisect, Outcome::FunctionError, 10, 0),
            Next::Retry { .. }
        ));
    }

    #[test]
    fn partial_failures_retry_without_bisecting_and_give_up_after_the_budget() {
        let partial = Outcome::PartialFailure { first_failed: 2 };
        assert_eq!(
            next_step(&POLICY, partial, 8, 0),
            Next::Retry {
                backoff: Duration::from_millis(100)
            }
        );
        assert_eq!(
            next_step(&POLICY, partial, 8, 1),
            Next::Retry {
                backoff: Duration::from_millis(200)
            }
        );
        assert_eq!(next_step(&POLICY, partial, 8, 2), Next::GiveUp);
        assert_eq!(next_step(&POLICY, Outcome::Succeeded, 0, 0), Next::Done);
        let forever = RetryPolicy {
            retry_attempts: Attempts::Forever,
            ..POLICY
        };
        assert!(matches!(
            next_step(&forever, partial, 8, 1_000_000),
            Next::Retry { .. }
        ));
        let none = RetryPolicy {
            retry_attempts: Attempts::Finite(0),
            ..POLICY
        };
        assert_eq!(next_step(&none, partial, 8, 0), Next::GiveUp);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b: Vec<u128> = (1..=4).map(|n| backoff(&POLICY, n).as_millis()).collect();
        assert_eq!(b, [100, 200, 350, 350]);
        assert_eq!(backoff(&POLICY, u32::MAX), Duration::from_millis(350));
    }

    #[test]
    fn records_over_the_maximum_age_are_split_off_in_order() {
        let arrivals = vec![1_000, 5_000, 2_000, 9_000];
        let (old, fresh) = split_expired(arrivals.clone(), |a| *a, RecordAge::Seconds(60), 66_000);
        assert_eq!((old, fresh), (vec![1_000, 5_000, 2_000], vec![9_000]));
        let (old, fresh) = split_expired(arrivals.clone(), |a| *a, RecordAge::Forever, i64::MAX);
        assert_eq!((old, fresh), (vec![], arrivals));
    }

    #[test]
    fn batches_stop_at_the_batch_size_and_the_payload_limit_but_take_one_record_at_least() {
        assert_eq!(batch_len([10; 7], 5, 1_000), 5);
        assert_eq!(batch_len([400, 400, 400], 10, 1_000), 2);
        assert_eq!(batch_len([5_000, 1], 10, 1_000), 1);
        assert_eq!(batch_len([], 10, 1_000), 0);
        assert_eq!(payload_size(3, 2), 4 + 2 + 300);
    }
}
