//! A simulated disk: files of bytes, each with the prefix an fsync made
//! durable. A crash keeps the durable prefix and, of what was written after
//! it, any prefix the run's randomness picks: nothing, some of it (a write
//! torn at any byte), or all of it.
//!
//! The disk knows no format. A protocol's storage code reads and writes it
//! like files, so a restart goes through the same recovery code as on a
//! real machine.

use std::collections::BTreeMap;

use rand::Rng;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimDisk {
    files: BTreeMap<String, SimFile>,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct SimFile {
    bytes: Vec<u8>,
    /// Bytes made durable by the last fsync.
    synced: usize,
}

impl SimDisk {
    /// Everything in `file`, durable or not (what a running process reads).
    pub fn read(&self, file: &str) -> &[u8] {
        self.files.get(file).map_or(&[], |f| &f.bytes)
    }

    pub fn append(&mut self, file: &str, bytes: &[u8]) {
        self.files
            .entry(file.to_owned())
            .or_default()
            .bytes
            .extend_from_slice(bytes);
    }

    /// Cuts `file` to `length` bytes, durably.
    pub fn truncate(&mut self, file: &str, length: usize) {
        if let Some(f) = self.files.get_mut(file) {
            f.bytes.truncate(length);
            f.synced = f.bytes.len();
        }
    }

    /// fsync: everything written to `file` so far is durable.
    pub fn sync(&mut self, file: &str) {
        if let Some(f) = self.files.get_mut(file) {
            f.synced = f.bytes.len();
        }
    }

    /// Bytes written but not yet durable, over all files.
    pub fn unsynced_bytes(&self) -> usize {
        self.files.values().map(|f| f.bytes.len() - f.synced).sum()
    }

    /// What survives a crash: the durable prefix of each file, and of the
    /// rest a prefix drawn from `rng` (all of it, none, or torn anywhere).
    pub fn crash(&mut self, rng: &mut impl Rng) {
        for f in self.files.values_mut() {
            let unsynced = f.bytes.len() - f.synced;
            if unsynced > 0 {
                let kept = rng.random_range(0..=unsynced);
                f.bytes.truncate(f.synced + kept);
            }
            f.synced = f.bytes.len();
        }
    }

    /// Flips bit `bit` (counted over the whole file) of `file`, if it has one:
    /// a corrupted sector under data already written.
    pub fn flip_bit(&mut self, file: &str, bit: usize) {
        if let Some(f) = self.files.get_mut(file) {
            if let Some(byte) = f.bytes.get_mut(bit / 8) {
                *byte ^= 1 << (bit % 8);
            }
        }
    }

    pub fn len(&self, file: &str) -> usize {
        self.read(file).len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.values().all(|f| f.bytes.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn a_crash_keeps_what_was_synced_and_a_prefix_of_the_rest() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut kept = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut disk = SimDisk::default();
            disk.append("f", b"durable");
            disk.sync("f");
            disk.append("f", b"-pending");
            disk.crash(&mut rng);
            let bytes = disk.read("f");
            assert!(bytes.starts_with(b"durable"));
            assert!(b"durable-pending".starts_with(bytes));
            kept.insert(bytes.len());
        }
        assert_eq!(
            kept.len(),
            9,
            "every prefix of the unsynced write is possible"
        );
    }
}
