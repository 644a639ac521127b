//! The one interface the `dlq` subcommands work through — a queue's messages, a dead letter's data, a
//! stream range, putting records back — over the local state (`local`) or the deployed stack (`deployed`,
//! feature `aws`).

use std::collections::HashSet;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use sluice_config::{Consumer, Pipeline};
use sluice_contract::consumer::KinesisBatchInfo;
use sluice_contract::{DeadLetterMessage, RecordData};
use sluice_local::dlq::LocalDeadLetters;
use sluice_writer::{BatchStats, KinesisEvent};

#[cfg(feature = "aws")]
use super::deployed::Aws;
use super::local;
use super::message::{DlqError, Hydrated, Queued, Rec};

pub(super) enum Backend {
    Local(LocalDeadLetters),
    #[cfg(feature = "aws")]
    Aws(Box<Aws>),
}

impl Backend {
    pub fn describe(&self) -> &'static str {
        match self {
            Backend::Local(_) => "local",
            #[cfg(feature = "aws")]
            Backend::Aws(_) => "deployed",
        }
    }

    /// Whether one page holds every message (locally; SQS hands them out a few at a time).
    pub fn is_local(&self) -> bool {
        matches!(self, Backend::Local(_))
    }

    /// How long a received message stays hidden while a redrive works on it (deployed).
    pub fn visibility_timeout(&self) -> i32 {
        match self {
            Backend::Local(_) => 0,
            #[cfg(feature = "aws")]
            Backend::Aws(aws) => aws.visibility_timeout,
        }
    }

    /// The next messages of a queue not received yet in this run (`seen`); empty when there are no more.
    pub async fn page(
        &self,
        queue: &str,
        seen: &HashSet<String>,
        #[cfg_attr(not(feature = "aws"), allow(unused_variables))] visibility: i32,
    ) -> Result<Vec<Queued>, DlqError> {
        match self {
            Backend::Local(l) => local::page(l, queue, seen).await,
            #[cfg(feature = "aws")]
            Backend::Aws(aws) => aws.page(queue, seen, visibility).await,
        }
    }

    /// Every message of a queue, made visible again afterwards (deployed).
    pub async fn all(&self, queue: &str) -> Result<Vec<Queued>, DlqError> {
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        loop {
            let page = self.page(queue, &seen, 30).await?;
            if page.is_empty() {
                break;
            }
            if self.is_local() {
                all.extend(page);
                break;
            }
            for m in page {
                seen.insert(m.id.clone());
                all.push(m);
            }
        }
        self.release(&all).await;
        Ok(all)
    }

    /// Makes received messages visible again at once (deployed; nothing to do locally).
    pub async fn release(
        &self,
        #[cfg_attr(not(feature = "aws"), allow(unused_variables))] messages: &[Queued],
    ) {
        match self {
            Backend::Local(_) => {}
            #[cfg(feature = "aws")]
            Backend::Aws(aws) => aws.release(messages).await,
        }
    }

    pub async fn delete(&self, m: &Queued) -> Result<(), DlqError> {
        match self {
            Backend::Local(l) => local::delete(l, m).await,
            #[cfg(feature = "aws")]
            Backend::Aws(aws) => aws.delete(m).await,
        }
    }

    /// A dead letter's data: inline, or the bucket's object (checked against its size and SHA-256).
    pub async fn data(&self, message: &DeadLetterMessage) -> Result<Vec<u8>, DlqError> {
        let location = match &message.data {
            RecordData::Inline(b64) => {
                return base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(DlqError::InlineNotBase64);
            }
            RecordData::Stored(location) => location,
        };
        let data = match self {
            Backend::Local(l) => local::object(l, location).await?,
            #[cfg(feature = "aws")]
            Backend::Aws(aws) => aws.object(location).await?,
        };
        let sha = hex(&Sha256::digest(&data));
        if sha != location.sha256 || data.len() as u64 != location.size {
            return Err(DlqError::NotTheData {
                bucket: location.bucket.clone(),
                key: location.key.clone(),
                size: data.len(),
                sha256: sha,
                expected_size: location.size,
                expected_sha256: location.sha256.clone(),
            });
        }
        Ok(data)
    }

    /// The records of an on-failure message's range, read back from the stream.
    pub async fn range(
        &self,
        pipeline: &Pipeline,
        consumer: &Consumer,
        info: &KinesisBatchInfo,
    ) -> Result<Hydrated, DlqError> {
        let retention = pipeline
            .streams
            .get(&consumer.stream)
            .map_or(24, |s| s.retention_hours);
        match self {
            Backend::Local(l) => local::range(l, consumer, info, retention).await,
            #[cfg(feature = "aws")]
            Backend::Aws(aws) => aws.range(consumer, info, retention).await,
        }
    }

    /// Puts a record back onto its stream; answers its new sequence number.
    pub async fn put_record(
        &self,
        pipeline: &Pipeline,
        consumer: &Consumer,
        rec: &Rec,
    ) -> Result<String, DlqError> {
        match self {
            Backend::Local(l) => local::put_record(l, pipeline, consumer, rec).await,
            #[cfg(feature = "aws")]
            Backend::Aws(aws) => aws.put_record(consumer, rec).await,
        }
    }

    /// Runs records through the writer library, over the consumer's table and dead-letter store.
    pub async fn write(
        &self,
        pipeline: &Pipeline,
        consumer: &Consumer,
        records: &[Rec],
    ) -> Result<(BatchStats, Option<String>), DlqError> {
        let table = pipeline
            .tables
            .get(&consumer.table)
            .ok_or_else(|| DlqError::NoTable(consumer.name.clone()))?;
        let mut event = KinesisEvent::default();
        event.records = records.iter().map(Rec::event_record).collect();
        match self {
            Backend::Local(l) => local::write(l, pipeline, consumer, table, event).await,
            #[cfg(feature = "aws")]
            Backend::Aws(aws) => aws.write(consumer, table, event).await,
        }
    }

    /// Ends the run: closes the local store (nothing to do deployed).
    pub async fn close(&self) {
        match self {
            Backend::Local(l) => l.close().await,
            #[cfg(feature = "aws")]
            Backend::Aws(_) => {}
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
