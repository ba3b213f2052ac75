//! Black-box tests: the real server on port 0, against the memory store and
//! a private `redis-server` per test (and a shared Redis Cluster and
//! Sentinel group for the scale-out suites: `redis_cluster.rs`).

mod core;
mod helpers;
mod redis_cluster;
mod redis_faults;
mod redis_layout;
mod redis_server;
mod scale_out;
mod scale_out_failover;
mod sessions;
mod standards;
mod store;
