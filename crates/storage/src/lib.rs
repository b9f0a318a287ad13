//! The store's durable state on disk: term, vote and log as checksummed,
//! append-only records in one file, `raft.log`.
//!
//! One code path serves two disks: the real file system ([`FsDisk`], used by
//! `ryw-node --data-dir`) and the simulator's disk, which implements
//! [`Disk`] with latency and faults. So the simulator exercises the very
//! recovery code a real node runs after `kill -9`.
//!
//! # File format
//!
//! ```text
//! "RYWLOG1\n"                                  8-byte header: magic and version
//! then records, each:
//!   length   u32, little-endian               bytes of payload
//!   checksum u32, little-endian               CRC-32 (IEEE) of length and payload
//!   payload  `length` bytes                   one JSON object (see ryw_core::codec::encode_record)
//! ```
//!
//! Records are `hard_state` (term, vote, start count) and `entry` (an index
//! and an entry; an index at or below the log's end truncates there first).
//! Replaying them in order rebuilds [`ryw_core::Durable`].
//!
//! # Recovery
//!
//! - A damaged record with nothing intact after it is a torn tail: a write
//!   the crash cut short, never acknowledged. It is cut off and the node
//!   carries on.
//! - A damaged record followed by an intact one is corruption of data that
//!   was already durable. Nothing after it can be trusted to follow from
//!   it, and it may have held a vote or an acknowledged entry, so recovery
//!   refuses with the file and the offset. Repair from peers is a later step.
//! - A wrong header is someone else's file: refused.

mod disk;
mod frame;
mod fs;
mod store;

pub use disk::Disk;
pub use frame::{FRAME_HEADER_BYTES, HEADER, PAYLOAD_BYTES_MAX};
pub use fs::FsDisk;
pub use store::{LogStore, Recovered, RecoveryError, LOG_FILE};
