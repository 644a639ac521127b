//! `cargo xtask plan`: whether the pipeline in pipeline.toml carries a target load, with what headroom, and
//! what it would cost a month. The capacity model is `sluice_config::capacity` (the same findings
//! `cargo xtask validate` warns about); the prices are `crates/ops/data/prices-us-east-1.toml`, a dated list-price
//! table kept in the repository. Exits non-zero when any component cannot carry the load.

use miette::miette;
use serde::Deserialize;
use sluice_config::capacity::{self, Finding, Load, Verdict};
use sluice_config::{Architecture, Billing, Pipeline, StreamCapacity};

/// The writer's time for a batch of 100 records, when not given: a full batch is four `BatchWriteItem`-sized
/// groups of conditional writes in parallel (a few ms each in region) plus the invocation's own overhead.
/// An estimate: measure yours from the writer's batch duration on a deployed pipeline.
pub const DEFAULT_BATCH_MS: f64 = 100.0;

/// `cargo xtask plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// Steady events per second arriving at the API (all routes together); default: the stage's own
    /// throttle rate (`throttle_rate_limit`), the most the stage admits.
    #[arg(long, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Size of each request body, in bytes (the same flag as `bench --body-bytes`).
    #[arg(long, default_value_t = 1024)]
    pub body_bytes: u64,
    /// Peak over the steady rate: the configuration must carry rate × peak (e.g. 2 for twice the rate).
    #[arg(long, default_value_t = 1.0)]
    pub peak: f64,
    /// The writer's time for a batch of 100 records, in milliseconds.
    #[arg(long, default_value_t = DEFAULT_BATCH_MS)]
    pub batch_ms: f64,
}

/// The price table (see the file for where the numbers come from).
#[derive(Debug, Deserialize)]
pub struct Prices {
    pub region: String,
    pub as_of: String,
    pub hours_per_month: f64,
    pub api_gateway: ApiGatewayPrices,
    pub lambda: LambdaPrices,
    pub kinesis: KinesisPrices,
    pub dynamodb: DynamoDbPrices,
    pub sqs: SqsPrices,
    pub secrets_manager: SecretsManagerPrices,
    pub cloudwatch: CloudWatchPrices,
}

#[derive(Debug, Deserialize)]
pub struct ApiGatewayPrices {
    pub rest_requests_per_million: f64,
}

#[derive(Debug, Deserialize)]
pub struct LambdaPrices {
    pub requests_per_million: f64,
    pub gb_second_x86_64: f64,
    pub gb_second_arm64: f64,
}

#[derive(Debug, Deserialize)]
pub struct KinesisPrices {
    pub shard_hour: f64,
    pub put_payload_units_per_million: f64,
    pub on_demand_stream_hour: f64,
    pub on_demand_gb_in: f64,
    pub on_demand_gb_out: f64,
    pub extended_retention_shard_hour: f64,
}

#[derive(Debug, Deserialize)]
pub struct DynamoDbPrices {
    pub wcu_hour: f64,
    pub rcu_hour: f64,
    pub on_demand_write_units_per_million: f64,
    pub storage_gb_month: f64,
}

#[derive(Debug, Deserialize)]
pub struct SqsPrices {
    pub requests_per_million: f64,
}

#[derive(Debug, Deserialize)]
pub struct SecretsManagerPrices {
    pub secret_month: f64,
    pub api_calls_per_10k: f64,
}

#[derive(Debug, Deserialize)]
pub struct CloudWatchPrices {
    pub logs_ingest_gb: f64,
    pub alarm_month: f64,
    pub dashboard_month: f64,
}

/// The price table's path in the repository, for messages.
pub const PRICES_FILE: &str = "crates/ops/data/prices-us-east-1.toml";

/// The price table compiled into the tool.
pub fn prices() -> Prices {
    // The file is part of the source and parsed by a test: it always parses.
    toml::from_str(include_str!("../data/prices-us-east-1.toml"))
        .unwrap_or_else(|e| panic!("{PRICES_FILE} is invalid: {e}"))
}

/// One line of the cost estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub component: String,
    pub monthly_usd: f64,
    /// What the number is made of.
    pub basis: String,
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The monthly cost of `p` at the steady `load` (the peak changes capacity, not the bill, much).
pub fn costs(p: &Pipeline, load: &Load, prices: &Prices) -> Vec<Cost> {
    let seconds = prices.hours_per_month * 3600.0;
    let hours = prices.hours_per_month;
    let requests = load.rate * seconds;
    let record = capacity::record_bytes(load.body_bytes) as f64;
    let item = capacity::item_bytes(load.body_bytes);
    let mut out = Vec::new();

    out.push(Cost {
        component: "API Gateway".into(),
        monthly_usd: requests / 1e6 * prices.api_gateway.rest_requests_per_million,
        basis: format!("{:.1} M requests", requests / 1e6),
    });

    let gb_second = |arch: Architecture| match arch {
        Architecture::X86_64 => prices.lambda.gb_second_x86_64,
        Architecture::Arm64 => prices.lambda.gb_second_arm64,
    };
    if let Some(auth) = &p.auth {
        let f = &p.functions.authorizer;
        // With API Gateway's result cache, one invocation per caller per TTL; without, one per request.
        let invocations = if auth.cache_ttl_seconds == 0 {
            requests
        } else {
            seconds / f64::from(auth.cache_ttl_seconds)
        };
        let duration_s = 0.02;
        let cost = invocations / 1e6 * prices.lambda.requests_per_million
            + invocations * duration_s * f64::from(f.memory_mb) / 1024.0
                * gb_second(f.architecture);
        out.push(Cost {
            component: "Lambda: authorizer".into(),
            monthly_usd: cost,
            basis: format!(
                "{:.2} M invocations (result cache {} s) of ~20 ms at {} MB",
                invocations / 1e6,
                auth.cache_ttl_seconds,
                f.memory_mb
            ),
        });
        // A warm authorizer re-reads the secret at most every 10 s (sluice_authorizer::RECHECK), plus AWSPREVIOUS
        // during a rotation's grace period; a busy one, about that often.
        let api_calls = seconds / 10.0;
        out.push(Cost {
            component: "Secrets Manager".into(),
            monthly_usd: prices.secrets_manager.secret_month
                + api_calls / 10_000.0 * prices.secrets_manager.api_calls_per_10k,
            basis: format!(
                "1 secret, ~{:.0} k reads per warm authorizer",
                api_calls / 1000.0
            ),
        });
    }

    let routed: std::collections::BTreeSet<&str> =
        p.routes.values().flat_map(|r| r.streams()).collect();
    for stream in p.streams.values() {
        let records = if routed.contains(stream.name.as_str()) {
            requests
        } else {
            0.0
        };
        let readers = p
            .consumers
            .values()
            .filter(|c| c.stream == stream.name)
            .count() as f64;
        let (cost, basis) = match stream.capacity {
            StreamCapacity::Provisioned { shard_count } => {
                let shards = f64::from(shard_count);
                let units = records * (record / 25_600.0).ceil().max(1.0);
                let extended = if stream.retention_hours > 24 {
                    shards * hours * prices.kinesis.extended_retention_shard_hour
                } else {
                    0.0
                };
                (
                    shards * hours * prices.kinesis.shard_hour
                        + units / 1e6 * prices.kinesis.put_payload_units_per_million
                        + extended,
                    format!(
                        "{shard_count} shard(s), {:.1} M PUT payload units{}",
                        units / 1e6,
                        if extended > 0.0 {
                            ", extended retention"
                        } else {
                            ""
                        }
                    ),
                )
            }
            StreamCapacity::OnDemand => {
                let gb_in = records * (record / 1024.0).ceil().max(1.0) * 1024.0 / GIB;
                (
                    hours * prices.kinesis.on_demand_stream_hour
                        + gb_in * prices.kinesis.on_demand_gb_in
                        + gb_in * readers * prices.kinesis.on_demand_gb_out,
                    format!("on-demand, {gb_in:.1} GB in, read by {readers:.0} consumer(s)"),
                )
            }
        };
        out.push(Cost {
            component: format!("Kinesis: {}", stream.name),
            monthly_usd: cost,
            basis,
        });
    }

    for consumer in p.consumers.values() {
        let Some(stream) = p.streams.get(&consumer.stream) else {
            continue;
        };
        let records = if routed.contains(consumer.stream.as_str()) {
            requests
        } else {
            0.0
        };
        let lanes = f64::from(stream.shard_count()) * f64::from(consumer.parallelization_factor);
        // Each lane polls about once a second: a batch holds what a lane gets in a second, up to the size.
        let fill = (load.rate / lanes.max(1.0)).clamp(1.0, f64::from(consumer.batch_size.max(1)));
        let invocations = records / fill;
        let duration_s = (load.batch_ms / 1000.0 * fill / 100.0).max(0.01);
        let f = &p.functions.writer;
        let cost = invocations / 1e6 * prices.lambda.requests_per_million
            + invocations * duration_s * f64::from(f.memory_mb) / 1024.0
                * gb_second(f.architecture);
        out.push(Cost {
            component: format!("Lambda: {}", consumer.name),
            monthly_usd: cost,
            basis: format!(
                "{:.2} M invocations of ~{fill:.0} records, ~{:.0} ms at {} MB",
                invocations / 1e6,
                duration_s * 1000.0,
                f.memory_mb
            ),
        });
    }

    for table in p.tables.values() {
        let writers = p
            .consumers
            .values()
            .filter(|c| c.table == table.name && routed.contains(c.stream.as_str()))
            .count() as f64;
        let writes = requests * writers;
        let (cost, basis) = match table.billing {
            Billing::Provisioned {
                read_capacity,
                write_capacity,
            } => (
                f64::from(write_capacity) * hours * prices.dynamodb.wcu_hour
                    + f64::from(read_capacity) * hours * prices.dynamodb.rcu_hour,
                format!("{write_capacity} WCU and {read_capacity} RCU provisioned"),
            ),
            Billing::OnDemand => {
                let units = writes * capacity::write_units(item) as f64;
                (
                    units / 1e6 * prices.dynamodb.on_demand_write_units_per_million,
                    format!("{:.1} M write request units", units / 1e6),
                )
            }
        };
        let stored_gb = writes * item as f64 / GIB;
        out.push(Cost {
            component: format!("DynamoDB: {}", table.name),
            monthly_usd: cost,
            basis: format!(
                "{basis}; storage not included (+{stored_gb:.1} GB a month at ${}/GB-month if nothing expires)",
                prices.dynamodb.storage_gb_month
            ),
        });
    }

    out.push(Cost {
        component: "SQS dead-letter queues".into(),
        monthly_usd: 0.0,
        basis: format!(
            "only failures: ${} per million messages",
            prices.sqs.requests_per_million
        ),
    });

    // About 600 bytes of JSON access log per request, and a log line per writer batch.
    let log_gb = requests * 600.0 / GIB;
    // The generated alarms (a metric-math alarm is billed per metric it reads) and the one dashboard.
    let generated = sluice_gen::monitoring::alarms(p);
    let alarm_metrics: usize = generated.iter().map(|a| a.metric.billed_metrics()).sum();
    out.push(Cost {
        component: "CloudWatch".into(),
        monthly_usd: log_gb * prices.cloudwatch.logs_ingest_gb
            + alarm_metrics as f64 * prices.cloudwatch.alarm_month
            + prices.cloudwatch.dashboard_month,
        basis: format!(
            "{log_gb:.1} GB of access logs, {} alarms ({alarm_metrics} alarm metrics), 1 dashboard",
            generated.len()
        ),
    });
    out
}

/// Checks the arguments: every bad value named.
fn load_from(args: &PlanArgs, stage_rate: f64) -> miette::Result<Load> {
    let max = sluice_contract::limits::MAX_RECORD_BYTES as u64;
    let rate = args.rate.unwrap_or(stage_rate);
    if !(rate.is_finite() && rate > 0.0) {
        return Err(miette!(
            "--rate must be a number of events per second above 0, not {rate}"
        ));
    }
    if args.body_bytes == 0 || capacity::record_bytes(args.body_bytes) > max {
        return Err(miette!(
            "--body-bytes must be between 1 and {} (a larger body does not fit in a Kinesis record with its envelope), not {}",
            max - capacity::record_bytes(0),
            args.body_bytes
        ));
    }
    if !(args.peak.is_finite() && args.peak >= 1.0) {
        return Err(miette!(
            "--peak must be 1 or more (the peak over the steady rate), not {}",
            args.peak
        ));
    }
    if !(args.batch_ms.is_finite() && args.batch_ms > 0.0) {
        return Err(miette!("--batch-ms must be above 0, not {}", args.batch_ms));
    }
    Ok(Load {
        rate,
        body_bytes: args.body_bytes,
        peak: args.peak,
        batch_ms: args.batch_ms,
    })
}

fn amount(x: f64, unit: &str) -> String {
    if x.is_infinite() {
        return "scales".into();
    }
    let n = if x >= 1e9 {
        format!("{:.1}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if x.fract() == 0.0 || x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.1}")
    } else {
        // Two significant digits: 50 records/s on a shard are "0.05 shards", 4 are "0.0045 shards".
        let decimals = (1 - x.log10().floor() as i32).max(2) as usize;
        format!("{x:.decimals$}")
    };
    format!("{n} {unit}")
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Tight => "TIGHT",
        Verdict::Fails => "FAILS",
    }
}

/// The findings as an aligned table.
pub fn findings_table(findings: &[Finding]) -> String {
    let rows: Vec<[String; 7]> = findings
        .iter()
        .map(|f| {
            [
                f.component.as_str().to_string(),
                f.name.clone(),
                f.what.clone(),
                amount(f.needed, f.unit),
                amount(f.available, f.unit),
                if f.headroom().is_infinite() {
                    "-".into()
                } else {
                    format!("{:.2}×", f.headroom())
                },
                verdict_word(f.verdict).to_string(),
            ]
        })
        .collect();
    let header = [
        "component",
        "name",
        "check",
        "needed",
        "available",
        "headroom",
        "verdict",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - cell.chars().count();
            // Numbers right-aligned, words left-aligned.
            if (3..=5).contains(&i) {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            }
            s.push_str("  ");
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `cargo xtask plan`: the chosen environment (`--env`), else the base pipeline and every environment.
pub fn run(config: &sluice_config::PipelineFile, args: PlanArgs) -> miette::Result<()> {
    let pipelines = config.load_each()?;
    let mut failing = Vec::new();
    for (i, pipeline) in pipelines.iter().enumerate() {
        if i > 0 {
            println!("\n");
        }
        let fails = plan_one(config, pipeline, &args)?;
        if fails > 0 {
            failing.push(format!(
                "{}: {fails} check(s)",
                pipeline
                    .environment
                    .as_deref()
                    .unwrap_or("the base pipeline")
            ));
        }
    }
    if !failing.is_empty() {
        return Err(miette!(
            "the configuration cannot carry this load: {} fail (see FAILS above)",
            failing.join("; ")
        ));
    }
    Ok(())
}

/// One pipeline's plan, printed; the number of checks that fail.
fn plan_one(
    config: &std::path::Path,
    pipeline: &Pipeline,
    args: &PlanArgs,
) -> miette::Result<usize> {
    let load = load_from(args, pipeline.api.throttle_rate_limit)?;
    let mut findings = capacity::assess(pipeline, &load);
    if args.rate.is_none() {
        // Planned at the stage's own throttle rate: the stage admits exactly that, by definition.
        for f in findings
            .iter_mut()
            .filter(|f| f.component == capacity::Component::Stage)
        {
            f.verdict = Verdict::Ok;
        }
    }
    let record = capacity::record_bytes(load.body_bytes);
    let item = capacity::item_bytes(load.body_bytes);
    println!(
        "plan for pipeline \"{}\" ({}{}): {} events/s steady{}, peak ×{} = {} events/s, {}-byte bodies",
        pipeline.name,
        config.display(),
        match &pipeline.environment {
            Some(env) => format!(", environment {env}"),
            None => String::new(),
        },
        load.rate,
        if args.rate.is_none() {
            " (the stage's throttle rate; --rate to plan another)"
        } else {
            ""
        },
        load.peak,
        load.peak_rate(),
        load.body_bytes
    );
    println!(
        "  → {record}-byte records on the stream, ~{item}-byte items ({} write unit(s) each); writer {} ms per 100-record batch\n",
        capacity::write_units(item),
        load.batch_ms
    );
    print!("{}", findings_table(&findings));
    println!();
    for f in findings.iter().filter(|f| f.verdict != Verdict::Ok) {
        println!(
            "{} {} {}: {}",
            verdict_word(f.verdict),
            f.component.as_str(),
            f.name,
            f.note
        );
    }

    let prices = prices();
    let costs = costs(pipeline, &load, &prices);
    let total: f64 = costs.iter().map(|c| c.monthly_usd).sum();
    println!(
        "\nmonthly cost estimate at the steady rate (an estimate: {} list prices as of {}, from {PRICES_FILE}):",
        prices.region, prices.as_of
    );
    let width = costs
        .iter()
        .map(|c| c.component.chars().count())
        .max()
        .unwrap_or(0);
    for c in &costs {
        println!(
            "  {:<width$}  ${:>10.2}  {}",
            c.component, c.monthly_usd, c.basis
        );
    }
    println!("  {:<width$}  ${total:>10.2}", "total");

    Ok(findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fails)
        .count())
}

/// The capacity warnings `cargo xtask validate` prints: the findings that fail at the stage's own throttle
/// rate with 1 KiB bodies, located at the setting each is about.
pub fn validate_warnings(src: &str, pipeline: &Pipeline) -> Vec<sluice_config::ConfigError> {
    let load = Load {
        rate: pipeline.api.throttle_rate_limit,
        body_bytes: 1024,
        peak: 1.0,
        batch_ms: DEFAULT_BATCH_MS,
    };
    capacity::assess(pipeline, &load)
        .into_iter()
        .filter(|f| f.verdict == Verdict::Fails && f.component != capacity::Component::Stage)
        .map(|f| {
            sluice_config::warning_at(
                src,
                &f.key_path,
                format!(
                    "{} {} cannot carry the stage's throttle rate ({} req/s of 1 KiB bodies): it needs {} {}, it has {}",
                    f.component.as_str(),
                    f.name,
                    load.rate,
                    amount(f.needed, f.unit),
                    f.what,
                    amount(f.available, f.unit)
                ),
                Some(f.note),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_price_table_parses_and_is_dated() {
        let p = prices();
        assert_eq!(p.region, "us-east-1");
        assert!(p.as_of.starts_with("20"));
        assert!(p.kinesis.shard_hour > 0.0 && p.dynamodb.wcu_hour > 0.0);
    }

    #[test]
    fn costs_follow_the_configuration() {
        let root = sluice_config::project_root();
        let p = sluice_config::load(&root.join("pipeline.toml")).unwrap();
        let load = Load {
            rate: 10.0,
            body_bytes: 1024,
            peak: 1.0,
            batch_ms: 100.0,
        };
        let costs = costs(&p, &load, &prices());
        let kinesis = costs
            .iter()
            .find(|c| c.component.starts_with("Kinesis"))
            .unwrap();
        // One shard for a month is 730 × $0.015 = $10.95, plus PUT payload units.
        assert!(
            kinesis.monthly_usd > 10.95 && kinesis.monthly_usd < 11.5,
            "{kinesis:?}"
        );
        let api = costs.iter().find(|c| c.component == "API Gateway").unwrap();
        assert!((api.monthly_usd - 10.0 * 2_628_000.0 / 1e6 * 3.5).abs() < 0.01);
    }

    #[test]
    fn bad_arguments_are_named() {
        let args = |rate: f64, bytes: u64, peak: f64| PlanArgs {
            rate: Some(rate),
            body_bytes: bytes,
            peak,
            batch_ms: 100.0,
        };
        assert!(
            format!("{:?}", load_from(&args(0.0, 10, 1.0), 100.0).unwrap_err()).contains("--rate")
        );
        assert!(
            format!(
                "{:?}",
                load_from(&args(1.0, 2_000_000, 1.0), 100.0).unwrap_err()
            )
            .contains("--body-bytes")
        );
        assert!(
            format!("{:?}", load_from(&args(1.0, 10, 0.5), 100.0).unwrap_err()).contains("--peak")
        );
        assert!(load_from(&args(1.0, 10, 1.0), 100.0).is_ok());
        let stage = PlanArgs {
            rate: None,
            ..args(1.0, 10, 1.0)
        };
        assert_eq!(
            load_from(&stage, 4.0).unwrap().rate,
            4.0,
            "the stage's rate by default"
        );
    }
}
