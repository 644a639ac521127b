//! The store under faults, in-process over real HTTP and real files: a second pipeline on one state dir, a
//! port already taken, a damaged database, a lost WAL, a full disk (a size-limited tmpfs, root only). After
//! each, every event answered 200 is in the table exactly once.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::common::*;
use serde_json::Value;
use sluice_local::{DevError, StartOptions};

fn options(state_dir: &Path) -> StartOptions {
    let mut opts = StartOptions::new(parse(&pipeline_toml(1, "")), state_dir);
    opts.credentials = Some(format!("{USER}:{PASS}"));
    opts.timings = fast_timings();
    // The stage's throttle (100 requests/s) would answer 429: these tests are about what is stored.
    opts.aws_limits = false;
    opts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_pipeline_on_one_state_dir_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = sluice_local::start(options(dir.path())).await.unwrap();
    let Err(refused) = sluice_local::start(options(dir.path())).await else {
        panic!("a second pipeline started on the same state dir");
    };
    assert!(matches!(refused, DevError::Locked(_)), "{refused:?}");
    let text = refused.to_string();
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    // The first one is unharmed.
    let response = submit(&client(), &first.base_url(), "after-refusal", SEED_BODY).await;
    assert_eq!(response.status(), 200);
    first.shutdown().await;
    // Once it stopped, the state dir is free again.
    let again = sluice_local::start(options(dir.path())).await.unwrap();
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_already_taken_is_refused_before_the_state_is_touched() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.addr = taken.local_addr().unwrap();
    let Err(refused) = sluice_local::start(opts).await else {
        panic!("started on a port already taken");
    };
    assert!(matches!(refused, DevError::Bind { .. }), "{refused:?}");
    assert!(
        !db_path(dir.path()).exists(),
        "the database was created before the port was bound"
    );
    assert!(
        !sluice_local::credentials_path(dir.path()).exists(),
        "the credentials were written before the port was bound"
    );
}

/// Sends `n` events of about 1 KiB (ids `{prefix}-{i}`), 8 at a time; answers the acknowledged ones: id →
/// sequence number. Every answer is a 200.
async fn send_events(base: &str, prefix: &str, n: usize) -> BTreeMap<String, String> {
    let client = client();
    let mut acked = BTreeMap::new();
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    for chunk in ids.chunks(8) {
        let sends = chunk.iter().map(|id| {
            let client = client.clone();
            let body = format!(r#"{{"id":"{id}","pad":"{}"}}"#, "x".repeat(1000));
            async move { (id.clone(), submit(&client, base, id, &body).await) }
        });
        for (id, response) in futures::future::join_all(sends).await {
            assert_eq!(response.status(), 200, "{id}");
            let reply: Value = response.json().await.unwrap();
            acked.insert(id, reply["SequenceNumber"].as_str().unwrap().to_owned());
        }
    }
    acked
}

/// Kinesis sequence numbers as numbers (decimal strings, compared by length then digits).
fn seq_key(s: &str) -> (usize, String) {
    (s.len(), s.to_owned())
}

/// Every acknowledged event is an item once, with the acknowledged sequence number and its own body.
async fn all_present_once(state_dir: &Path, acked: &BTreeMap<String, String>) {
    let items = all_acknowledged_present_once(state_dir, acked).await;
    for id in acked.keys() {
        assert_eq!(items[id]["payload"]["id"], id.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_database_is_refused_then_recovered_keeping_what_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let running = sluice_local::start(options(dir.path())).await.unwrap();
    let acked = send_events(&running.base_url(), "dmg", 600).await;
    all_present_once(dir.path(), &acked).await;
    running.shutdown().await;

    // The damaged copy: 64 KiB of garbage in the middle of a copy of the database.
    let copy = tempfile::tempdir().unwrap();
    let damaged = db_path(copy.path());
    std::fs::copy(db_path(dir.path()), &damaged).unwrap();
    let mut bytes = std::fs::read(&damaged).unwrap();
    assert!(
        bytes.len() > 256 << 10,
        "the database is {} bytes",
        bytes.len()
    );
    let middle = bytes.len() / 2 / 4096 * 4096;
    for (i, b) in bytes[middle..middle + (64 << 10)].iter_mut().enumerate() {
        *b = (i * 7 + 13) as u8;
    }
    std::fs::write(&damaged, &bytes).unwrap();

    let Err(refused) = sluice_local::start(options(copy.path())).await else {
        panic!("a damaged database was served");
    };
    assert!(matches!(refused, DevError::Damaged(_)), "{refused:?}");
    let text = refused.to_string();
    assert!(
        text.contains("is damaged") && text.contains("pipeline.db"),
        "{text}"
    );
    let help = miette::Diagnostic::help(&refused).unwrap().to_string();
    assert!(help.contains("--recover"), "{help}");
    // Refused again on the next start: nothing was changed.
    assert_eq!(std::fs::read(&damaged).unwrap(), bytes);

    let recovery = sluice_local::recover(copy.path(), &parse(&pipeline_toml(1, "")))
        .unwrap()
        .expect("a damaged database is recovered");
    eprintln!("{recovery}");
    // `--recover` on a sound database does nothing.
    let mut opts = options(copy.path());
    opts.recover = true;
    let recovered = sluice_local::start(opts).await.unwrap();
    let aside: Vec<_> = std::fs::read_dir(copy.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("damaged-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read(aside[0].join("pipeline.db")).unwrap(),
        bytes,
        "the damaged file is kept as it was"
    );
    // What was kept is each there once with what was sent; a new event never reuses an acknowledged
    // sequence number.
    let kept = items(copy.path(), "EventTable");
    assert!(!kept.is_empty(), "nothing was kept");
    for (id, item) in &kept {
        assert_eq!(item["sequenceNumber"], acked[id].as_str(), "{id}");
    }
    let next = send_events(&recovered.base_url(), "after", 1).await;
    let highest = acked.values().map(|s| seq_key(s)).max().unwrap();
    assert!(
        seq_key(&next["after-0"]) > highest,
        "{next:?} reuses a sequence number"
    );
    recovered.shutdown().await;

    // The original, untouched, still has every acknowledged event once.
    let original = sluice_local::start(options(dir.path())).await.unwrap();
    all_present_once(dir.path(), &acked).await;
    original.shutdown().await;
}

/// The database rolled back behind the high-water mark (an older copy of pipeline.db put back, its WAL
/// gone): refused with the figures; with the WAL's content back it starts and has every event once; with
/// `--recover` the loss is accepted and no sequence number is handed out twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_database_is_refused_with_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let running = sluice_local::start(options(dir.path())).await.unwrap();
    let mut acked = send_events(&running.base_url(), "before", 40).await;
    running.shutdown().await;
    let older = std::fs::read(db_path(dir.path())).unwrap();

    let running = sluice_local::start(options(dir.path())).await.unwrap();
    let later = send_events(&running.base_url(), "later", 25).await;
    running.shutdown().await;
    let newer = std::fs::read(db_path(dir.path())).unwrap();
    acked.extend(later.clone());

    std::fs::write(db_path(dir.path()), &older).unwrap();
    let Err(refused) = sluice_local::start(options(dir.path())).await else {
        panic!("a database behind the high-water mark was served");
    };
    assert!(matches!(refused, DevError::LostWrites(_)), "{refused:?}");
    let text = refused.to_string();
    assert!(
        text.contains("records up to 65 were acknowledged")
            && text.contains("the database ends at 40: 25 missing"),
        "{text}"
    );
    let help = miette::Diagnostic::help(&refused).unwrap().to_string();
    assert!(
        help.contains("--recover") && help.contains("pipeline.db-wal"),
        "{help}"
    );

    // What was lost put back: it starts, and every acknowledged event is there once.
    std::fs::write(db_path(dir.path()), &newer).unwrap();
    let running = sluice_local::start(options(dir.path())).await.unwrap();
    all_present_once(dir.path(), &acked).await;
    running.shutdown().await;

    // Rolled back again, and the loss accepted: the counter goes on after the last one handed out.
    std::fs::write(db_path(dir.path()), &older).unwrap();
    let recovery = sluice_local::recover(dir.path(), &parse(&pipeline_toml(1, "")))
        .unwrap()
        .expect("counters behind the mark are raised");
    assert_eq!(recovery.raised.len(), 1, "{recovery}");
    assert!(recovery.to_string().contains("25 missing"), "{recovery}");
    let running = sluice_local::start(options(dir.path())).await.unwrap();
    let next = send_events(&running.base_url(), "next", 1).await;
    let highest = acked.values().map(|s| seq_key(s)).max().unwrap();
    assert!(
        seq_key(&next["next-0"]) > highest,
        "{next:?} reuses a sequence number"
    );
    running.shutdown().await;
}

/// A size-limited tmpfs, mounted for the test (and unmounted on drop).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts an 8 MiB tmpfs, or says why it cannot (not root, no `mount`).
    fn mount() -> Result<SmallDisk, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs -o size=8m failed (it needs root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn grow(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount to {size}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// A full disk is an outage that ends by itself: while full, writes answer 503 `StorageFull` (nothing
/// stored, nothing acknowledged); once there is room the store takes writes again within seconds without a
/// restart, and every event answered 200 — before and after — is in the table exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_then_recovers_by_itself() {
    let disk = match SmallDisk::mount() {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("SKIPPED a_full_disk_refuses_writes_then_recovers_by_itself: {why}");
            println!("SKIPPED a_full_disk_refuses_writes_then_recovers_by_itself: {why}");
            return;
        }
    };
    let state_dir = disk.path().join("state");
    let running = sluice_local::start(options(&state_dir)).await.unwrap();
    let base = running.base_url();

    // Load until the disk is full: 8 clients, ~2 KiB events, until 50 answers in a row are 503.
    let acked: std::sync::Arc<std::sync::Mutex<BTreeMap<String, String>>> = Default::default();
    let full_answers = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for task in 0..8 {
        let (base, acked, full_answers) = (base.clone(), acked.clone(), full_answers.clone());
        clients.push(tokio::spawn(async move {
            let client = client();
            let started = std::time::Instant::now();
            for i in 0.. {
                if full_answers.load(std::sync::atomic::Ordering::SeqCst) >= 50
                    || started.elapsed() > Duration::from_secs(40)
                {
                    return;
                }
                let id = format!("fill-{task}-{i}");
                let body = format!(r#"{{"id":"{id}","pad":"{}"}}"#, "y".repeat(2000));
                let response = submit(&client, &base, &id, &body).await;
                match response.status().as_u16() {
                    200 => {
                        let reply: Value = response.json().await.unwrap();
                        let seq = reply["SequenceNumber"].as_str().unwrap().to_owned();
                        acked.lock().unwrap().insert(id, seq);
                        full_answers.store(0, std::sync::atomic::Ordering::SeqCst);
                    }
                    503 => {
                        assert_eq!(response.headers()["retry-after"], "1");
                        let body: Value = response.json().await.unwrap();
                        assert_eq!(body["error"], "StorageFull", "{body}");
                        full_answers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    other => panic!("{id}: {other} {}", response.text().await.unwrap()),
                }
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    assert!(
        full_answers.load(std::sync::atomic::Ordering::SeqCst) >= 50,
        "the disk never filled"
    );
    assert!(running.store.is_full(), "the store says the disk is full");
    let before = acked.lock().unwrap().clone();
    assert!(
        !before.is_empty(),
        "nothing was stored before the disk filled"
    );

    // Room again: writes resume by themselves, no restart.
    disk.grow("64m");
    let client = client();
    let mut after = BTreeMap::new();
    let resumed = eventually(Duration::from_secs(20), || !running.store.is_full()).await;
    for i in 0..200 {
        let id = format!("after-{i}");
        let response = submit(&client, &base, &id, r#"{"after":true}"#).await;
        if response.status() == 200 {
            let reply: Value = response.json().await.unwrap();
            after.insert(id, reply["SequenceNumber"].as_str().unwrap().to_owned());
            if after.len() >= 20 {
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(
        resumed && after.len() >= 20,
        "writes did not resume: {} accepted",
        after.len()
    );
    eprintln!(
        "full disk: {} acknowledged before it filled, {} after it grew",
        before.len(),
        after.len()
    );

    // Every acknowledged event, before and after, reaches the table exactly once.
    let mut all = before.clone();
    all.extend(after);
    let complete = eventually(Duration::from_secs(30), || {
        let items = items(&state_dir, "EventTable");
        all.keys().all(|id| items.contains_key(id))
    })
    .await;
    let items = items(&state_dir, "EventTable");
    let missing: Vec<_> = all.keys().filter(|id| !items.contains_key(*id)).collect();
    assert!(
        complete,
        "{} of {} acknowledged events missing, e.g. {:?}",
        missing.len(),
        all.len(),
        missing.first()
    );
    for (id, seq) in &all {
        assert_eq!(items[id]["sequenceNumber"], seq.as_str(), "{id}");
    }
    running.shutdown().await;
}
