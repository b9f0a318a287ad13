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
//! "RYWLOG2\n"                                  8-byte header: magic and version
//! then records, each:
//!   length        u32, little-endian          bytes of payload
//!   length check  u32, little-endian          CRC-32 (IEEE) of the 4 length bytes
//!   checksum      u32, little-endian          CRC-32 (IEEE) of the payload
//!   payload       `length` bytes              one JSON object (see ryw_core::codec::encode_record)
//! ```
//!
//! Records are `hard_state` (term, vote, start count) and `entry` (an index
//! and an entry; an index at or below the log's end truncates there first).
//! Replaying them in order rebuilds [`ryw_core::Durable`].
//!
//! # Recovery
//!
//! - A torn tail, the shape a crash leaves of a write in flight, is cut off
//!   and the node carries on: a record header cut short, a payload that runs
//!   past the end of the file (its length passed its own check), or zeros
//!   from inside the last record to the end of the file (the file's size
//!   reached the disk before its last blocks). Such a write was never
//!   synced, so nothing was acknowledged from it.
//! - Anything else that fails a check is corruption of bytes that were
//!   written whole, wherever it is, the last record included: a flipped bit
//!   in a length, a checksum or a payload. It may have held a vote or an
//!   acknowledged entry, and nothing after it can be trusted to follow from
//!   it, so recovery refuses with the file and the offset. (Every torn
//!   shape runs to the end of the file, so nothing intact can follow one.)
//!   Repair from peers is a later step.
//! - A wrong header is someone else's file: refused.

mod disk;
mod frame;
mod fs;
mod meta;
mod store;

pub use disk::Disk;
pub use frame::{FRAME_HEADER_BYTES, HEADER, PAYLOAD_BYTES_MAX};
pub use fs::FsDisk;
pub use meta::META_FILES;
pub use store::{
    LogStore, Loss, Recovered, RecoveryError, Unwritten, WriteStats, Written, LOG_FILE,
};
