//! Black-box tests: the real server on port 0, against the memory store and
//! a private `redis-server` per test (and a shared Redis Cluster and
//! Sentinel group for the scale-out suites: `redis_cluster.rs`).
#![allow(clippy::unwrap_used, clippy::pedantic)] // test and benchmark code: failing loudly is the point

mod apache;
mod attacks;
mod audit_trail;
mod bad_input;
mod binary;
mod cli;
mod client_checks;
mod client_feed;
mod client_guard;
mod client_support;
mod core;
mod dpop;
mod durability;
mod expiry;
mod forged_record;
mod forward_auth;
mod helpers;
mod hostile_edge;
mod keys;
mod local_verify;
mod managed_redis;
mod nginx;
mod oauth_attacks;
mod oauth_errors;
mod oauth_interop;
mod oauth_token;
mod operations;
mod operator_logging;
mod ownership;
mod random_bodies;
mod rate_limits;
mod redis_cluster;
mod redis_faults;
mod redis_layout;
mod redis_server;
mod refresh_grace;
mod revocation_feed;
mod scale_out;
mod scale_out_failover;
mod secrets;
mod sessions;
mod shutdown;
mod size_budget;
mod standards;
mod store;
mod store_dpop;
mod store_family_access;
mod store_feed;
mod store_grace;
mod tls_pki;
mod verify_cache;
mod verify_demands;
mod wait_isolation;
