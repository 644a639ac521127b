//! The store under faults, in-process over real HTTP and real files: a second pipeline on one state dir, a
//! port already taken, a damaged database, a lost WAL, a full disk (a size-limited tmpfs, root only). After
//! each, every event answered 200 is in the table exactly once.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use sluice_local::{DevError, StartOptions};

fn options(state_dir: &Path) -> StartOptions {
    let mut opts = StartOptions::new(parse(&pipeline_toml(1, "")), state_dir);
    opts.credentials = Some(format!("{USER}:{PASS}"));
    opts.timings = fast_timings();
    opts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_pipeline_on_one_state_dir_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_in(dir.path(), &pipeline_toml(1, ""), Default::default()).await;
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
