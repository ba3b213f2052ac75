//! Black-box tests: the real server on port 0, against the memory store and
//! a private `redis-server` per test.

mod core;
mod helpers;
mod redis_faults;
mod redis_layout;
mod redis_server;
mod sessions;
mod standards;
mod store;
mod verify_cache;
