//! The tests that cross crates, one binary (each extra test binary links the whole dependency tree again):
//! generated Terraform against moto and checkov, the built Lambda binaries under a Runtime API stand-in,
//! the CLI over a running local pipeline. Shared helpers are the `sluice_tests` library (`support/lib.rs`)
//! and the modules below that several tests use.

/// The local runtime's test helpers (`crates/local/tests/it/common.rs`), shared with that crate's tests.
#[path = "../../crates/local/tests/it/common.rs"]
mod dev_common;
mod status_common;

mod authorizer_moto;
mod build_zips;
mod checkov_scan;
mod dev_crash;
mod dev_faults;
mod dev_log;
mod dev_watch;
mod dlq_local;
mod dlq_moto;
mod env_cli;
mod follow_cli;
mod gen_golden;
mod gen_openapi;
mod gen_validation;
mod gen_vtl;
mod pipeline_test_cli;
mod plan_cli;
mod rotate_local;
mod runtime_api_bootstrap;
mod send_local;
mod smoke_local;
mod smoke_readers;
mod status_local;
mod status_moto;
mod terraform_envs;
mod terraform_moto;
mod terraform_validate;
mod writer_moto;
