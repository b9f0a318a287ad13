//! The superblock: how much of `raft.log` was synced, kept in two
//! checksummed copies beside the log.
//!
//! The log alone cannot tell a file that was cut at a record boundary (by
//! an operator, or a disk that lost what it promised) from one that simply
//! ended there. So after every fsync of the log, before anything that
//! fsync covered is acknowledged, the store records the log's synced length
//! here. At boot, a log shorter than that length lost synced data.
//!
//! Each write replaces the older of two copies (`raft.meta.a`,
//! `raft.meta.b`), so a write torn by a crash leaves the other copy whole;
//! the copy with the higher sequence number that passes its check wins.
//!
//! ```text
//! "RYWMETA2"   8 bytes   magic and version
//! sequence     u64 LE    how many copies were written before this one
//! log synced   u64 LE    bytes of the current log file made durable
//! generation   u64 LE    which log file is current (see `store.rs`)
//! checksum     u32 LE    CRC-32 (IEEE) of the 32 bytes before it
//! ```
//!
//! A copy written by an older version (`RYWMETA1`, 28 bytes, no
//! generation) reads as generation 0: `raft.log`.
//!
//! The superblock is also where a compacted log takes over: the new log
//! file is written and synced whole, and only the superblock naming its
//! generation makes it current.

use std::io;

use crate::Disk;

/// The two copies, written alternately.
pub const META_FILES: [&str; 2] = ["raft.meta.a", "raft.meta.b"];

const MAGIC: &[u8; 8] = b"RYWMETA2";
const META_BYTES: usize = 36;
const MAGIC_V1: &[u8; 8] = b"RYWMETA1";
const META_V1_BYTES: usize = 28;

/// One copy's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) sequence: u64,
    pub(crate) log_synced_bytes: u64,
    /// The current log file's generation: one more at every compaction.
    pub(crate) generation: u64,
}

impl Meta {
    pub(crate) fn encode(&self) -> [u8; META_BYTES] {
        let mut bytes = [0; META_BYTES];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..16].copy_from_slice(&self.sequence.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.log_synced_bytes.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.generation.to_le_bytes());
        let checksum = crc32fast::hash(&bytes[..32]);
        bytes[32..].copy_from_slice(&checksum.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Meta> {
        let u64_at = |at: usize| Some(u64::from_le_bytes(bytes[at..at + 8].try_into().ok()?));
        let (body, generation) = match bytes.len() {
            META_BYTES if &bytes[..8] == MAGIC => (32, u64_at(24)?),
            META_V1_BYTES if &bytes[..8] == MAGIC_V1 => (24, 0),
            _ => return None,
        };
        let checksum = u32::from_le_bytes(bytes[body..body + 4].try_into().ok()?);
        if crc32fast::hash(&bytes[..body]) != checksum {
            return None;
        }
        Some(Meta {
            sequence: u64_at(8)?,
            log_synced_bytes: u64_at(16)?,
            generation,
        })
    }
}

/// The newest copy that passes its check, if any does.
pub(crate) fn read(disk: &mut impl Disk) -> io::Result<Option<Meta>> {
    let mut newest: Option<Meta> = None;
    for file in META_FILES {
        if let Some(meta) = Meta::decode(&disk.read_all(file)?) {
            if newest.is_none_or(|n| meta.sequence > n.sequence) {
                newest = Some(meta);
            }
        }
    }
    Ok(newest)
}

/// How many copies exist but fail their check. In the simulator a copy is
/// written whole or not at all, so such a copy was damaged after it was
/// written, and the other copy may be older than what was acknowledged.
pub(crate) fn damaged_copies(disk: &mut impl Disk) -> io::Result<usize> {
    let mut damaged = 0;
    for file in META_FILES {
        let bytes = disk.read_all(file)?;
        if !bytes.is_empty() && Meta::decode(&bytes).is_none() {
            damaged += 1;
        }
    }
    Ok(damaged)
}

/// Writes `meta` over the copy it takes turns with, durably.
pub(crate) fn write(disk: &mut impl Disk, meta: Meta) -> io::Result<()> {
    disk.overwrite(meta.file(), &meta.encode())
}

impl Meta {
    /// The copy this one replaces: the copies take turns.
    pub(crate) fn file(&self) -> &'static str {
        META_FILES[(self.sequence % 2) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_reads_back_and_any_flipped_bit_makes_it_unreadable() {
        let meta = Meta {
            sequence: 7,
            log_synced_bytes: 4096,
            generation: 3,
        };
        let bytes = meta.encode();
        assert_eq!(Meta::decode(&bytes), Some(meta));
        for bit in 0..META_BYTES * 8 {
            let mut bad = bytes;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Meta::decode(&bad), None, "bit {bit}");
        }
        for length in 0..META_BYTES {
            assert_eq!(Meta::decode(&bytes[..length]), None, "cut to {length}");
        }
    }

    #[test]
    fn a_copy_an_older_version_wrote_reads_as_generation_zero() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC_V1);
        bytes.extend_from_slice(&5u64.to_le_bytes());
        bytes.extend_from_slice(&900u64.to_le_bytes());
        let checksum = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        let meta = Meta::decode(&bytes).expect("an old copy reads");
        assert_eq!(
            (meta.sequence, meta.log_synced_bytes, meta.generation),
            (5, 900, 0)
        );
        bytes[10] ^= 1;
        assert_eq!(Meta::decode(&bytes), None);
    }

    #[test]
    fn a_copy_of_the_right_length_and_checksum_but_another_magic_is_refused() {
        let meta = Meta {
            sequence: 2,
            log_synced_bytes: 10,
            generation: 1,
        };
        let mut bytes = meta.encode();
        bytes[..8].copy_from_slice(b"XYWMETA2");
        let checksum = crc32fast::hash(&bytes[..32]);
        bytes[32..].copy_from_slice(&checksum.to_le_bytes());
        assert_eq!(Meta::decode(&bytes), None, "36 bytes, not ours");
        let mut old = bytes[..24].to_vec();
        old[..8].copy_from_slice(b"XYWMETA1");
        let checksum = crc32fast::hash(&old);
        old.extend_from_slice(&checksum.to_le_bytes());
        assert_eq!(Meta::decode(&old), None, "28 bytes, not ours");
    }
}
