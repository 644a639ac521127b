//! Token buckets: AWS's throttles and capacities, applied locally so that a local load test says what
//! production will do (on by default; `cargo xtask dev --unlimited` turns them off):
//!
//! - the stage's throttle: API Gateway's token bucket per method and resource (`throttle_rate_limit` tokens a
//!   second, `throttle_burst_limit` deep) → 429 `Throttled`, as API Gateway's THROTTLED gateway response;
//! - each shard's write limits (1,000 records and 1 MiB a second) → Kinesis's
//!   `ProvisionedThroughputExceededException`, which the mapping template turns into 429 `Throttled`;
//! - a provisioned table's write capacity (write units a second, items rounded up to 1 KB, with up to 300
//!   seconds of unused capacity kept as burst) → the writer sees throttling and retries as it would on AWS.
//!
//! - with `[waf]`, the web ACL's rate-based rule: more than `rate_limit` requests from one source address in
//!   the trailing 5 minutes → 429 `Throttled` with an empty request id, as the WAF's custom response answers.
//!
//! Each is arithmetic on an explicit clock ([`TokenBucket`], [`RateWindow`]), tested on its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use sluice_config::{Billing, Pipeline};
use sluice_contract::limits::{
    BURST_CAPACITY_SECONDS, SHARD_WRITE_BYTES_PER_SECOND, SHARD_WRITE_RECORDS_PER_SECOND,
};

/// A token bucket: `rate` tokens a second, at most `capacity` kept; starts full.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    pub fn new(rate: f64, capacity: f64) -> Self {
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        }
        self.last = Some(now);
    }

    /// Takes `n` tokens if there are that many at `now`; otherwise takes none.
    pub fn try_take(&mut self, n: f64, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }

    /// Tokens available at `now`.
    pub fn available(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.tokens
    }
}

/// Requests counted over a trailing window in slots (WAF's rate-based rule: per source address, 5 minutes).
#[derive(Debug, Clone, PartialEq)]
pub struct RateWindow {
    slot: std::time::Duration,
    /// (slot number since `origin`, requests in it), oldest first.
    slots: std::collections::VecDeque<(u64, u64)>,
    origin: Option<Instant>,
    len: u64,
}

impl RateWindow {
    /// A window of `slots` slots of `slot` each.
    pub fn new(slot: std::time::Duration, slots: u64) -> Self {
        RateWindow {
            slot,
            slots: std::collections::VecDeque::new(),
            origin: None,
            len: slots,
        }
    }

    /// Counts one request at `now`; answers the requests in the window, this one included.
    pub fn count(&mut self, now: Instant) -> u64 {
        let origin = *self.origin.get_or_insert(now);
        let index =
            (now.saturating_duration_since(origin).as_nanos() / self.slot.as_nanos().max(1)) as u64;
        while self
            .slots
            .front()
            .is_some_and(|(i, _)| *i + self.len <= index)
        {
            self.slots.pop_front();
        }
        match self.slots.back_mut() {
            Some((i, n)) if *i == index => *n += 1,
            _ => self.slots.push_back((index, 1)),
        }
        self.slots.iter().map(|(_, n)| n).sum()
    }
}

/// The WAF's rate-based rule, per source address.
#[derive(Debug)]
pub struct WafLimit {
    limit: u64,
    windows: Mutex<HashMap<std::net::IpAddr, RateWindow>>,
}

impl WafLimit {
    pub fn new(limit: u32) -> Self {
        WafLimit {
            limit: u64::from(limit),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a request from `ip` at `now` passes (it is counted either way, as WAF counts blocked requests).
    pub fn admit(&self, ip: std::net::IpAddr, now: Instant) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return true;
        };
        // 5 minutes in 10-second slots.
        let window = windows
            .entry(ip)
            .or_insert_with(|| RateWindow::new(std::time::Duration::from_secs(10), 30));
        window.count(now) <= self.limit
    }
}

/// Whether a route's stage throttle and a shard's write limits let a request through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// The stage's throttle refused it (API Gateway's THROTTLED).
    StageThrottled,
    /// The shard is over its write limits (Kinesis's ProvisionedThroughputExceededException).
    ShardThrottled,
}

/// The stage and shard limits of a running local pipeline.
#[derive(Debug)]
pub struct GatewayLimits {
    stage_rate: f64,
    stage_burst: f64,
    /// Per method and resource (route name and stream), as API Gateway's method-level throttling.
    stage: Mutex<HashMap<(String, String), TokenBucket>>,
    /// Per stream and shard: records and bytes.
    shards: Mutex<HashMap<(String, u32), (TokenBucket, TokenBucket)>>,
}

impl GatewayLimits {
    pub fn new(pipeline: &Pipeline) -> Self {
        GatewayLimits {
            stage_rate: pipeline.api.throttle_rate_limit,
            stage_burst: f64::from(pipeline.api.throttle_burst_limit),
            stage: Mutex::new(HashMap::new()),
            shards: Mutex::new(HashMap::new()),
        }
    }

    /// One request on a route's resource for `stream`, before it reaches the authorizer.
    pub fn admit_request(&self, route: &str, stream: &str, now: Instant) -> Admission {
        let Ok(mut buckets) = self.stage.lock() else {
            return Admission::Admitted;
        };
        let bucket = buckets
            .entry((route.to_owned(), stream.to_owned()))
            .or_insert_with(|| TokenBucket::new(self.stage_rate, self.stage_burst));
        if bucket.try_take(1.0, now) {
            Admission::Admitted
        } else {
            Admission::StageThrottled
        }
    }

    /// One record of `bytes` (data and partition key) onto a shard.
    pub fn admit_record(&self, stream: &str, shard: u32, bytes: usize, now: Instant) -> Admission {
        let Ok(mut buckets) = self.shards.lock() else {
            return Admission::Admitted;
        };
        let (records, volume) = buckets
            .entry((stream.to_owned(), shard))
            .or_insert_with(|| {
                let records = SHARD_WRITE_RECORDS_PER_SECOND as f64;
                let bytes = SHARD_WRITE_BYTES_PER_SECOND as f64;
                (
                    TokenBucket::new(records, records),
                    TokenBucket::new(bytes, bytes),
                )
            });
        // Both or neither: a refused record uses up nothing.
        if records.available(now) >= 1.0 && volume.available(now) >= bytes as f64 {
            records.try_take(1.0, now);
            volume.try_take(bytes as f64, now);
            Admission::Admitted
        } else {
            Admission::ShardThrottled
        }
    }
}

/// A provisioned table's write capacity: `None` for an on-demand table (not throttled locally).
pub fn table_write_bucket(billing: Billing) -> Option<TokenBucket> {
    match billing {
        Billing::Provisioned { write_capacity, .. } => {
            let rate = f64::from(write_capacity);
            Some(TokenBucket::new(rate, rate * BURST_CAPACITY_SECONDS as f64))
        }
        Billing::OnDemand => None,
    }
}

/// A line for the startup summary: which limits are on.
pub fn summary(pipeline: &Pipeline, enabled: bool) -> String {
    if !enabled {
        return "  limits: off (--unlimited): no WAF rate rule, stage throttle, shard or table limits\n".into();
    }
    let mut out = format!(
        "  limits: as on AWS (--unlimited turns them off): stage throttle {} req/s, bursts of {}, per route; {SHARD_WRITE_RECORDS_PER_SECOND} records/s and 1 MiB/s per shard",
        pipeline.api.throttle_rate_limit, pipeline.api.throttle_burst_limit
    );
    if let Some(waf) = &pipeline.waf {
        out.push_str(&format!(
            "; WAF {} requests per 5 minutes per address",
            waf.rate_limit
        ));
    }
    for table in pipeline.tables.values() {
        if let Billing::Provisioned { write_capacity, .. } = table.billing {
            out.push_str(&format!(
                "; table {} {write_capacity} write units/s",
                table.name
            ));
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 5.0);
        assert!((0..5).all(|_| b.try_take(1.0, t0)), "the burst");
        assert!(!b.try_take(1.0, t0), "then empty");
        // 100 ms at 10/s gives one token back.
        assert!(b.try_take(1.0, t0 + Duration::from_millis(100)));
        assert!(!b.try_take(1.0, t0 + Duration::from_millis(100)));
        // Never more than the capacity, however long it rests.
        assert_eq!(b.available(t0 + Duration::from_secs(3600)), 5.0);
        assert!(!b.try_take(6.0, t0 + Duration::from_secs(3600)));
    }

    #[test]
    fn a_shard_takes_a_thousand_records_or_a_mebibyte_a_second() {
        let p = sluice_config::parse(
            r#"
[pipeline]
name = "l"
region = "us-east-1"
throttle_rate_limit = 2
throttle_burst_limit = 3
[streams.S]
[tables.T]
partition_key = { name = "id" }
billing_mode = "provisioned"
read_capacity = 1
write_capacity = 10
[queues.Q]
[routes.r]
path = "/r/{id}"
auth = "none"
stream = "S"
partition_key = { path_param = "id" }
"#,
            "pipeline.toml",
        )
        .unwrap();
        let limits = GatewayLimits::new(&p);
        let t0 = Instant::now();
        let admitted = (0..1500)
            .filter(|_| limits.admit_record("S", 0, 100, t0) == Admission::Admitted)
            .count();
        assert_eq!(admitted, 1000);
        // Another shard has its own limits.
        assert_eq!(limits.admit_record("S", 1, 100, t0), Admission::Admitted);
        // Bytes: two 600 KB records do not fit in one second's MiB; the refused one takes nothing.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(
            limits.admit_record("S", 2, 600_000, t1),
            Admission::Admitted
        );
        assert_eq!(
            limits.admit_record("S", 2, 600_000, t1),
            Admission::ShardThrottled
        );
        assert_eq!(
            limits.admit_record("S", 2, 400_000, t1),
            Admission::Admitted
        );

        // The stage: a burst of 3, then 2 a second, per route and stream.
        let stage: Vec<Admission> = (0..4).map(|_| limits.admit_request("r", "S", t0)).collect();
        assert_eq!(
            stage.iter().filter(|a| **a == Admission::Admitted).count(),
            3
        );
        assert_eq!(stage[3], Admission::StageThrottled);
        assert_eq!(
            limits.admit_request("r", "S", t0 + Duration::from_millis(500)),
            Admission::Admitted
        );
        assert_eq!(
            limits.admit_request("other", "S", t0),
            Admission::Admitted,
            "another method or resource has its own bucket"
        );

        let mut table = table_write_bucket(p.tables["T"].billing).unwrap();
        assert_eq!(table.available(t0), 3000.0, "300 s of 10 WCU as burst");
        assert!(summary(&p, true).contains("table T 10 write units/s"));

        let waf = WafLimit::new(3);
        let ip: std::net::IpAddr = [10, 0, 0, 1].into();
        let other: std::net::IpAddr = [10, 0, 0, 2].into();
        assert!((0..3).all(|_| waf.admit(ip, t0)));
        assert!(
            !waf.admit(ip, t0 + Duration::from_secs(60)),
            "4 in 5 minutes"
        );
        assert!(waf.admit(other, t0), "per source address");
        assert!(
            waf.admit(ip, t0 + Duration::from_secs(320)),
            "the first requests have left the window"
        );
        assert!(summary(&p, false).contains("--unlimited"));
    }
}
