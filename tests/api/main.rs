//! Black-box tests: the real server on port 0, against the memory store and
//! a private `redis-server` per test.

mod apache;
mod core;
mod forward_auth;
mod helpers;
mod keys;
mod local_verify;
mod nginx;
mod redis_faults;
mod redis_layout;
mod redis_server;
mod sessions;
mod standards;
mod store;
