//! Tessera: a standalone token service. The layers, top to bottom (each
//! depends only on the ones below it; `docs/architecture.md` has the map):
//!
//! - [`cli`], [`app`]: the command line and the composition root;
//! - [`http`]: the actix-web edge (routes, client credentials, rate
//!   limits, the error table);
//! - [`service`]: the token flows, the only caller of the layers below;
//! - [`token`] (keys, signing, verification) and [`store`] (memory, Redis);
//! - [`ops`]: logging, audit trail, metrics;
//! - [`config`]: typed settings;
//! - [`domain`]: validated values and policy, depending on nothing.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod ops;
pub mod service;
pub mod store;
pub mod token;
