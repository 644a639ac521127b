//! The local runtime's integration tests, one binary (each extra test binary links the whole dependency
//! tree again): the pipeline started in-process on a free loopback port, over real HTTP and real SQLite.

mod common;

mod consumer;
mod faults;
mod filters;
mod function_process;
mod gateway;
mod gateway_abuse;
mod limits;
mod poison;
mod reload;
mod store_sync;
