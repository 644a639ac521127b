//! The dead letters' side of the store: messages into a dead-letter queue's table, objects into the local
//! dead-letter bucket (`_sluice_objects`).

use rusqlite::params;
use sluice_contract::limits::MAX_DEAD_LETTER_MESSAGE_BYTES;

use super::{Store, StoreError, now_ms, quote_ident};

impl Store {
    /// Adds a message to a dead-letter queue's table; a body over [`MAX_DEAD_LETTER_MESSAGE_BYTES`] is
    /// refused ([`StoreError::MessageTooLarge`]), as SQS refuses it.
    pub async fn send_message(&self, queue: &str, body: String) -> Result<(), StoreError> {
        if body.len() > MAX_DEAD_LETTER_MESSAGE_BYTES {
            return Err(StoreError::MessageTooLarge {
                bytes: body.len(),
                max: MAX_DEAD_LETTER_MESSAGE_BYTES,
            });
        }
        let sql = format!(
            "INSERT INTO {} (body, sent_at_ms) VALUES (?1, ?2)",
            quote_ident(queue)
        );
        self.write(move |conn, _| {
            conn.prepare_cached(&sql)?
                .execute(params![body, now_ms()])?;
            Ok(())
        })
        .await
    }

    /// Puts an object into a local bucket (replacing one of the same key), after checking its SHA-256 as
    /// S3 does.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        data: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<(), StoreError> {
        use sha2::Digest as _;
        if <[u8; 32]>::from(sha2::Sha256::digest(&data)) != sha256 {
            return Err(StoreError::ChecksumMismatch);
        }
        let hex: String = sha256.iter().map(|b| format!("{b:02x}")).collect();
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write(move |conn, _| {
            conn.prepare_cached(
                "INSERT INTO _sluice_objects (bucket, key, data, sha256, stored_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (bucket, key) DO UPDATE SET
                     data = excluded.data, sha256 = excluded.sha256, stored_ms = excluded.stored_ms",
            )?
            .execute(params![bucket, key, data, hex, now_ms()])?;
            Ok(())
        })
        .await
    }
}
