//! Tessera: a standalone token service. See `docs/architecture.md`.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod logging;
pub mod rate_limit;
pub mod routes;
pub mod service;
pub mod startup;
pub mod store;
pub mod strict_json;
pub mod telemetry;
pub mod token;
