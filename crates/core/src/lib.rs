//! Sans-IO core of the read-your-writes store.
//!
//! No clocks, threads, I/O or OS randomness: time comes in as [`Millis`],
//! randomness from a ChaCha generator seeded by [`Config::rng_seed`], and
//! everything the node wants to do comes out of [`Node::poll_transmit`] and
//! [`Node::poll_timeout`].

pub mod codec;
pub mod config;
pub mod data;
mod decimal;
pub mod durable;
pub mod events;
pub mod id;
pub mod kv;
pub mod log;
pub mod message;
pub mod node;
mod outbox;
pub(crate) mod raft;
pub(crate) mod serve;
pub mod snapshot;
pub mod time;

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
pub(crate) mod work;

pub use config::{Cluster, Config, PlantedBugs};
pub use data::{Key, Value};
pub use durable::Durable;
pub use events::{Event, Reached};
pub use id::Id;
pub use kv::Kv;
pub use message::*;
pub use node::{Node, ReadsWaiting, RoleKind};
pub use snapshot::Snapshot;
pub use time::Millis;
