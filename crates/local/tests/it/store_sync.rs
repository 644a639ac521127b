//! The store's durable writes: with `Durability::Full` a write is answered only after the WAL was synced
//! (on the syncer thread), and a failed sync refuses that write and every later one, as a failed COMMIT does;
//! and its read connections, whose statements are planned once.

use crate::common::*;
use sluice_local::{Durability, Store, StoreError, now_ms};

const STREAM: &str = "GatewayEventsStream";

fn store(dir: &std::path::Path, durability: Durability) -> Store {
    Store::open(dir, &parse(&pipeline_toml(1, "")), durability).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_durable_appends_are_answered_in_order_and_survive_a_reopen() {
    for durability in [Durability::Full, Durability::Normal] {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), durability);
        let mut tasks = Vec::new();
        for i in 0..200 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.append(STREAM, 1, &format!("k{i}"), b"{}".to_vec(), now_ms())
                    .await
            }));
        }
        let mut counters = Vec::new();
        for task in tasks {
            counters.push(task.await.unwrap().unwrap().counter);
        }
        counters.sort();
        assert_eq!(counters, (1..=200).collect::<Vec<i64>>(), "{durability:?}");
        // Every answered record is readable at once from another connection.
        let read = s.records_after(STREAM, 0, 0, 1000).await.unwrap();
        assert_eq!(read.len(), 200, "{durability:?}");
        s.close().await;

        let again = store(dir.path(), durability);
        let next = again
            .append(STREAM, 1, "after", b"{}".to_vec(), now_ms())
            .await
            .unwrap();
        assert_eq!(
            next.counter, 201,
            "{durability:?}: counters survive a reopen"
        );
        again.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_refuses_the_write_and_every_later_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), Durability::Full);
    s.append(STREAM, 1, "first", b"{}".to_vec(), now_ms())
        .await
        .unwrap();
    // SQLite keeps writing through its open descriptor; the syncer opens the WAL by its path, which is now a
    // directory: its sync fails.
    let wal = db_path(dir.path()).with_extension("db-wal");
    assert!(wal.exists(), "{} exists", wal.display());
    std::fs::rename(&wal, dir.path().join("moved-wal")).unwrap();
    std::fs::create_dir(&wal).unwrap();

    let refused = s
        .append(STREAM, 1, "second", b"{}".to_vec(), now_ms())
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::Commit(m) if m.to_string().contains("syncing") && m.to_string().contains("refuses writes")),
        "{refused}"
    );
    let later = s
        .append(STREAM, 1, "third", b"{}".to_vec(), now_ms())
        .await
        .unwrap_err();
    assert!(
        matches!(later, StoreError::Closed | StoreError::Commit(_)),
        "{later}"
    );
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_syncer_normal_durability_ignores_the_wal_path() {
    // NORMAL never syncs after a commit, so the same injected fault changes nothing.
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), Durability::Normal);
    s.append(STREAM, 1, "first", b"{}".to_vec(), now_ms())
        .await
        .unwrap();
    let wal = db_path(dir.path()).with_extension("db-wal");
    std::fs::rename(&wal, dir.path().join("moved-wal")).unwrap();
    std::fs::create_dir(&wal).unwrap();
    let appended = s
        .append(STREAM, 1, "second", b"{}".to_vec(), now_ms())
        .await
        .unwrap();
    assert_eq!(appended.counter, 2);
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_sustained_writes_instead_of_growing() {
    // 240 MiB of records (10 KiB each), written back to back by 8 writers: without the RESTART checkpoints the
    // WAL holds every frame (more than 240 MiB); with them it is reused from its start once past 64 MiB (it
    // overshoots by what is written between two checks).
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), Durability::Normal);
    let wal = db_path(dir.path()).with_extension("db-wal");
    let mut largest = 0u64;
    for round in 0..150 {
        let mut tasks = Vec::new();
        for w in 0..8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..20 {
                    s.append(
                        STREAM,
                        1,
                        &format!("k{round}-{w}-{i}"),
                        vec![b'x'; 10 << 10],
                        now_ms(),
                    )
                    .await
                    .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    s.close().await;
    eprintln!("the WAL's largest size: {} MiB", largest >> 20);
    assert!(largest > 0, "the WAL was seen");
    assert!(
        largest < 200 << 20,
        "the WAL reached {} MiB for 240 MiB written",
        largest >> 20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_with_a_bound_limit_is_not_prepared_again_for_each_value() {
    // The shard readers ask for `LIMIT ?` records, a different number each time; SQLite re-parses such a
    // statement whenever the value changes unless the connection has the query planner stability guarantee.
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), Durability::Normal);
    for i in 0..5 {
        s.append(STREAM, 1, &format!("k{i}"), b"{}".to_vec(), now_ms())
            .await
            .unwrap();
    }
    let (counts, reprepared) = s
        .read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT counter FROM _sluice_records WHERE stream = ?1 AND counter > ?2 ORDER BY counter LIMIT ?3",
            )?;
            let mut counts = Vec::new();
            for limit in [1, 3, 2, 5] {
                let rows: Vec<i64> = stmt
                    .query_map(rusqlite::params![STREAM, 0, limit], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                counts.push(rows.len());
            }
            Ok((
                counts,
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
            ))
        })
        .await
        .unwrap();
    assert_eq!(counts, [1, 3, 2, 5]);
    assert_eq!(reprepared, 0, "the statement was prepared again");
    s.close().await;
}
