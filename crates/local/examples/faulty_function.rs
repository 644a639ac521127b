//! A function binary for the process runner's tests (`tests/it/function_process.rs`), built with
//! `lambda_runtime` like any deployed function: it writes each batch as the stock writer does, through dev's
//! loopback seams, unless a record's data asks for a fault:
//!
//! - `"crash"`: the process exits (status 3) mid-invocation;
//! - `"panic"`: the handler panics (the runtime reports it on `…/error`);
//! - `"sleep"`: it sleeps past any test's function timeout;
//! - `"fail"`: the record is reported in `batchItemFailures` (a partial batch response).

use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sluice_contract::env;
use sluice_writer::local::{LocalDeadLetters, LocalTable};
use sluice_writer::{WriterConfig, handle_batch, kinesis_event_from_json};

fn has(data: &[u8], word: &str) -> bool {
    data.windows(word.len()).any(|w| w == word.as_bytes())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = WriterConfig::from_env()?;
    let endpoint = std::env::var(env::SLUICE_LOCAL_ENDPOINT)?;
    let table = LocalTable::new(&endpoint, config.table_name.clone())?;
    let dead_letters = LocalDeadLetters::new(
        &endpoint,
        &std::env::var(env::DEAD_LETTER_QUEUE_URL)?,
        std::env::var(env::DEAD_LETTER_BUCKET)?,
    )?;
    println!("faulty function ready");
    let (config, table, dead_letters) = (&config, &table, &dead_letters);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let event = kinesis_event_from_json(event.payload)?;
            let mut failed = Vec::new();
            for record in &event.records {
                let data = &record.kinesis.data.0;
                if has(data, "crash") {
                    eprintln!("crashing on {}", record.kinesis.sequence_number);
                    std::process::exit(3);
                }
                if has(data, "panic") {
                    panic!("panicking on {}", record.kinesis.sequence_number);
                }
                if has(data, "sleep") {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                if has(data, "fail") {
                    failed.push(record.kinesis.sequence_number.clone());
                }
            }
            let mut response = handle_batch(config, table, dead_letters, event).await;
            for sequence_number in failed {
                response.add_failure(sequence_number);
            }
            Ok::<_, Error>(response)
        },
    ))
    .await
}
