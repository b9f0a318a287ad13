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
//! "RYWLOGv3"                                  8-byte header: magic and format
//! then records, each:
//!   length        u32, little-endian          bytes of payload
//!   length check  u32, little-endian          CRC-32 (IEEE) of the 4 length bytes
//!   checksum      u32, little-endian          CRC-32 (IEEE) of the payload
//!   payload       `length` bytes              one binary record (see `record.rs`)
//! ```
//!
//! A log of format 2 (header `"RYWLOG2\n"`, written by older versions)
//! holds a JSON object per record (`ryw_core::codec::encode_record`); it is
//! read, appended to in kind, and written anew in format 3 at the next
//! compaction.
//!
//! Records are `hard_state` (term, vote, start count), `entry` (an index
//! and an entry; an index at or below the log's end truncates there first)
//! and, first in a compacted log, `base` (the log starts after that index).
//! Replaying them in order rebuilds [`ryw_core::Durable`].
//!
//! # Snapshots and compaction
//!
//! A snapshot ([`ryw_core::Snapshot`]) lives in `raft.snapshot`:
//! `"RYWSNAP2"`, then one record framed as above holding the snapshot in
//! binary (see `snapshot_file.rs`; a `"RYWSNAP1"` file, the snapshot's
//! text, from older versions, is still read). It is replaced atomically: written to `raft.snapshot.tmp`,
//! synced, renamed over `raft.snapshot` (the rename syncs the directory).
//! Then the log is written anew from its base into the other of its two
//! names (`raft.log`, `raft.log.1`), synced whole, and the superblock
//! naming that file's generation makes it current; the old file is
//! emptied. A crash at any point leaves either the old snapshot or the new
//! one, and either the old log or the new one, and any of these pairs is
//! consistent: the log never starts after the snapshot's index. Recovery
//! empties a log file the superblock does not name. A damaged snapshot is
//! a [`Loss`] naming the file and the offset; the log entries that need it
//! are dropped and the node catches up from its peers.
//!
//! # Recovery
//!
//! Beside the log, a superblock (two checksummed copies, see `meta.rs`)
//! records how many bytes of it were synced, written after every fsync and
//! before anything it covers is acknowledged. Recovery tells apart:
//!
//! - a torn tail past the synced length, the shape a crash leaves of a
//!   write in flight (a record cut short, zeros to the end of the file, or
//!   any damage past what was synced): cut off, and the node carries on;
//!   nothing was acknowledged from it;
//! - losses, reported as [`Loss`] and marking the recovered state
//!   recovering, so the node catches up from its peers before it votes: no
//!   files at all (a new node, or a deleted directory), a log shorter than
//!   what was synced (a cut file, a disk that lied), a record that fails
//!   its check inside the synced part (cut off with everything after it),
//!   a log without superblock, or a damaged superblock copy;
//! - refusals: a header two or more bits away from ours (someone else's
//!   file), and an intact record that makes no sense.

mod background_sync;
mod compaction;
mod disk;
mod frame;
mod fs;
mod meta;
mod record;
mod snapshot_file;
mod store;

pub use background_sync::{SyncDone, SyncJob};
pub use disk::Disk;
pub use frame::{FRAME_HEADER_BYTES, PAYLOAD_BYTES_MAX};
pub use fs::FsDisk;
pub use meta::META_FILES;
pub use record::{LogFormat, HEADER, HEADER_JSON};
pub use snapshot_file::{SNAPSHOT_FILE, SNAPSHOT_HEADER, SNAPSHOT_HEADER_TEXT, SNAPSHOT_TMP_FILE};
pub use store::{
    log_file, LogStore, Loss, Recovered, RecoveryError, Unwritten, WriteStats, Written, LOG_FILE,
    LOG_FILES, OWNER_FILE,
};
