//! A simulated disk: files of bytes, each with the prefix an fsync made
//! durable. A crash keeps the durable prefix and, of what was written after
//! it, what the crash fault's [`Unsynced`] mode says: a prefix the run's
//! randomness picks (nothing, some of it torn at any byte, or all of it),
//! nothing at all, or a torn write whose lost bytes read back as zeros.
//!
//! The disk knows no format. A protocol's storage code reads and writes it
//! like files, so a restart goes through the same recovery code as on a
//! real machine. An fsync takes time: the process asks for one
//! ([`SimDisk::request_sync`]), the engine completes it after the disk's
//! latency ([`SimDisk::complete_sync`]) and tells the process
//! ([`crate::Process::handle_synced`]).

use std::collections::VecDeque;
use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimDisk {
    /// Files in the order they were created (a disk holds a few).
    files: Vec<SimFile>,
    /// Active full-disk faults: while any holds, appends fail.
    full: u32,
    /// Appends refused because the disk was full.
    pub appends_refused: u64,
    /// fsyncs asked for and not yet started by the engine: (id, how many
    /// files there were when asked).
    requested: VecDeque<(u64, usize)>,
    /// fsyncs started and not yet complete, likewise.
    in_flight: VecDeque<(u64, usize)>,
    /// For every fsync asked for and not complete, in order: the length of
    /// each file it covers (kept flat so that an fsync allocates nothing).
    lengths: VecDeque<usize>,
    syncs_asked: u64,
    /// Active fsync-error faults: while any holds, fsyncs fail.
    failing: u32,
    /// Ranges of files whose fsync failed, (file, from, to): their pages
    /// were dropped, and a crash zeroes them even if a later fsync passed.
    doomed: Vec<(usize, usize, usize)>,
    /// How many faults made this disk lose or change what it had synced
    /// (wipes, lost synced tails, corruption): a store that finds synced
    /// data gone with this count unchanged broke its own promise.
    pub lies: u64,
    /// `lies` as the process on this disk last accounted for them (the
    /// store's runtime sets it at boot).
    pub lies_seen: u64,
    /// Armed by a fault: the next rename onto this file does not happen,
    /// and the process crashes there ([`SimDisk::rename`]).
    pub crash_at_rename: Option<String>,
    /// The armed rename came: the process must stop as if it crashed.
    pub crashed_at_rename: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct SimFile {
    name: String,
    bytes: Vec<u8>,
    /// Bytes made durable by the last fsync.
    synced: usize,
}

/// What a crash does to writes not yet fsynced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unsynced {
    /// Any prefix of them survives, drawn by the seed: all, none, or torn
    /// at any byte.
    #[default]
    Prefix,
    /// None survives.
    Lost,
    /// A torn write: a prefix survives, drawn by the seed, and the rest
    /// keeps its length but reads as zeros (the file's size reached the
    /// disk, its last blocks did not).
    Torn,
}

/// How long a disk takes: an fsync asked for at `t` completes at `t +
/// write + fsync`, each drawn uniformly from its range (and never before an
/// fsync asked for earlier on the same disk). All zero: an fsync completes
/// within the step that asked for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskLatency {
    pub write_ms_min: u64,
    pub write_ms_max: u64,
    pub fsync_ms_min: u64,
    pub fsync_ms_max: u64,
}

impl DiskLatency {
    /// One fsync's time, write included. Draws nothing from `rng` for a
    /// range of one value, so a disk without latency draws nothing at all.
    pub fn draw(&self, rng: &mut impl Rng) -> u64 {
        let mut pick = |min: u64, max: u64| {
            if max <= min {
                min
            } else {
                rng.random_range(min..=max)
            }
        };
        let write_ms = pick(self.write_ms_min, self.write_ms_max);
        write_ms.saturating_add(pick(self.fsync_ms_min, self.fsync_ms_max))
    }

    /// Why these latencies make no sense, naming the field under `at`.
    pub fn check(&self, at: &str) -> Result<(), String> {
        for (name, min, max) in [
            ("write_ms", self.write_ms_min, self.write_ms_max),
            ("fsync_ms", self.fsync_ms_min, self.fsync_ms_max),
        ] {
            if min > max {
                return Err(format!(
                    "field '{at}.{name}_min' ({min}) is above '{at}.{name}_max' ({max})"
                ));
            }
        }
        Ok(())
    }
}

/// An append refused: no space left on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskFull;

impl fmt::Display for DiskFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no space left on device (simulated full disk)")
    }
}

impl std::error::Error for DiskFull {}

impl SimDisk {
    /// Everything in `file`, durable or not (what a running process reads).
    pub fn read(&self, file: &str) -> &[u8] {
        self.file(file).map_or(&[], |f| &f.bytes)
    }

    fn file(&self, name: &str) -> Option<&SimFile> {
        self.files.iter().find(|f| f.name == name)
    }

    fn file_mut(&mut self, name: &str) -> Option<&mut SimFile> {
        self.files.iter_mut().find(|f| f.name == name)
    }

    /// Appends to `file`; refused while the disk is full.
    pub fn append(&mut self, file: &str, bytes: &[u8]) -> Result<(), DiskFull> {
        if self.full > 0 {
            self.appends_refused += 1;
            return Err(DiskFull);
        }
        match self.file_mut(file) {
            Some(f) => f.bytes.extend_from_slice(bytes),
            None => self.files.push(SimFile {
                name: file.to_owned(),
                bytes: bytes.to_vec(),
                synced: 0,
            }),
        }
        Ok(())
    }

    /// Replaces all of `file` with `bytes`, durably (a write that the engine
    /// does not delay: it completes within the step).
    pub fn overwrite(&mut self, file: &str, bytes: &[u8]) {
        match self.file_mut(file) {
            Some(f) => {
                f.bytes.clear();
                f.bytes.extend_from_slice(bytes);
                f.synced = f.bytes.len();
            }
            None => self.files.push(SimFile {
                name: file.to_owned(),
                bytes: bytes.to_vec(),
                synced: bytes.len(),
            }),
        }
    }

    /// Renames `from` over `to`, atomically and durably (a rename followed
    /// by an fsync of the directory): `to` holds what `from` held, and
    /// `from` reads as absent. What `from` held but had not synced is
    /// carried over unsynced.
    ///
    /// Returns false, renaming nothing, when a fault armed a crash at this
    /// rename: the process is to stop there.
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        if self.crash_at_rename.as_deref() == Some(to) {
            self.crash_at_rename = None;
            self.crashed_at_rename = true;
            return false;
        }
        let Some(k) = self.files.iter().position(|f| f.name == from) else {
            return true;
        };
        let bytes = std::mem::take(&mut self.files[k].bytes);
        let synced = std::mem::take(&mut self.files[k].synced);
        match self.file_mut(to) {
            Some(f) => {
                f.bytes = bytes;
                f.synced = synced;
            }
            None => self.files.push(SimFile {
                name: to.to_owned(),
                bytes,
                synced,
            }),
        }
        true
    }

    /// Cuts `file` to `length` bytes, durably.
    pub fn truncate(&mut self, file: &str, length: usize) {
        if let Some(f) = self.file_mut(file) {
            f.bytes.truncate(length);
            f.synced = f.bytes.len();
        }
    }

    /// fsync at once: everything written to `file` so far is durable.
    pub fn sync(&mut self, file: &str) {
        if let Some(f) = self.file_mut(file) {
            f.synced = f.bytes.len();
        }
    }

    /// Asks for an fsync of everything written so far, to be completed by
    /// the engine after the disk's latency; returns its id. (What is
    /// written after this call is not covered by it.)
    pub fn request_sync(&mut self) -> u64 {
        self.syncs_asked += 1;
        self.lengths
            .extend(self.files.iter().map(|f| f.bytes.len()));
        self.requested
            .push_back((self.syncs_asked, self.files.len()));
        self.syncs_asked
    }

    /// The next fsync asked for and not yet started, which is now started.
    pub fn start_next_sync(&mut self) -> Option<u64> {
        let sync = self.requested.pop_front()?;
        let id = sync.0;
        self.in_flight.push_back(sync);
        Some(id)
    }

    /// fsync `id` has completed: what it covered is durable. fsyncs
    /// complete in the order they started; completing one completes every
    /// earlier one.
    pub fn complete_sync(&mut self, id: u64) {
        while self.in_flight.front().is_some_and(|&(k, _)| k <= id) {
            let (_, files) = self.in_flight.pop_front().expect("checked");
            for (f, length) in self.files.iter_mut().zip(self.lengths.drain(..files)) {
                f.synced = f.synced.max(length.min(f.bytes.len()));
            }
        }
    }

    /// An fsync-error fault starts (`true`) or heals (`false`).
    pub fn set_failing(&mut self, failing: bool) {
        hold(&mut self.failing, failing);
    }

    /// Whether fsyncs fail now.
    pub fn is_failing(&self) -> bool {
        self.failing > 0
    }

    /// fsync `id` failed, and with it every earlier one in flight: nothing
    /// they covered became durable, and their pages are dropped (a crash
    /// zeroes them, whatever a later fsync says).
    pub fn fail_sync(&mut self, id: u64) {
        while self.in_flight.front().is_some_and(|&(k, _)| k <= id) {
            let (_, files) = self.in_flight.pop_front().expect("checked");
            let lengths: Vec<usize> = self.lengths.drain(..files).collect();
            for (k, length) in lengths.into_iter().enumerate() {
                let f = &self.files[k];
                let to = length.min(f.bytes.len());
                if f.synced < to {
                    self.doomed.push((k, f.synced, to));
                }
            }
        }
    }

    /// The whole disk is lost: every file gone, as if deleted.
    pub fn wipe(&mut self) {
        self.files.clear();
        self.doomed.clear();
        self.lies += 1;
    }

    /// `only` or else the largest file loses a suffix of its synced bytes,
    /// drawn from `rng` (at least one byte, up to all of them). Returns
    /// (file, the length it had, the length it has).
    pub fn lose_synced_tail(
        &mut self,
        rng: &mut impl Rng,
        only: Option<&str>,
    ) -> Option<(String, usize, usize)> {
        let f = self
            .files
            .iter_mut()
            .filter(|f| f.synced > 0 && only.is_none_or(|name| f.name == name))
            .max_by_key(|f| f.synced)?;
        let had = f.bytes.len();
        let lost = rng.random_range(1..=f.synced);
        f.synced -= lost;
        f.bytes.truncate(f.synced);
        self.lies += 1;
        Some((f.name.clone(), had, f.synced))
    }

    /// A full-disk fault starts (`true`) or heals (`false`).
    pub fn set_full(&mut self, full: bool) {
        hold(&mut self.full, full);
    }

    /// Bytes written but not yet durable, over all files.
    pub fn unsynced_bytes(&self) -> usize {
        self.files.iter().map(|f| f.bytes.len() - f.synced).sum()
    }

    /// What survives a crash: the durable prefix of each file, and of the
    /// rest what `unsynced` says, drawn from `rng`. fsyncs in flight never
    /// complete.
    pub fn crash(&mut self, unsynced: Unsynced, rng: &mut impl Rng) {
        for (k, from, to) in self.doomed.drain(..) {
            let f = &mut self.files[k];
            let to = to.min(f.bytes.len());
            if from < to {
                f.bytes[from..to].fill(0);
            }
        }
        for f in &mut self.files {
            let pending = f.bytes.len() - f.synced;
            if pending > 0 {
                let kept = match unsynced {
                    Unsynced::Lost => 0,
                    Unsynced::Prefix | Unsynced::Torn => rng.random_range(0..=pending),
                };
                if unsynced == Unsynced::Torn {
                    f.bytes[f.synced + kept..].fill(0);
                } else {
                    f.bytes.truncate(f.synced + kept);
                }
            }
            f.synced = f.bytes.len();
        }
        self.requested.clear();
        self.in_flight.clear();
        self.lengths.clear();
        self.crashed_at_rename = false;
    }

    /// Flips `bits` bits of what the disk holds durably, at places drawn
    /// from `rng`: corrupted sectors under data already written. Returns
    /// each (file, byte offset) hit.
    pub fn corrupt(
        &mut self,
        bits: u32,
        rng: &mut impl Rng,
        only: Option<&str>,
    ) -> Vec<(String, usize)> {
        let hit_here = |f: &SimFile| only.is_none_or(|name| f.name == name);
        let durable: usize = self
            .files
            .iter()
            .filter(|f| hit_here(f))
            .map(|f| f.synced)
            .sum();
        let mut hit = Vec::new();
        if durable == 0 {
            return hit;
        }
        self.lies += 1;
        for _ in 0..bits {
            let mut at = rng.random_range(0..durable * 8);
            for f in self.files.iter_mut().filter(|f| hit_here(f)) {
                if at < f.synced * 8 {
                    f.bytes[at / 8] ^= 1 << (at % 8);
                    hit.push((f.name.clone(), at / 8));
                    break;
                }
                at -= f.synced * 8;
            }
        }
        hit
    }

    pub fn len(&self, file: &str) -> usize {
        self.read(file).len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.iter().all(|f| f.bytes.is_empty())
    }
}

/// Counts the faults holding a disk in some state: one more starts
/// (`true`) or one heals (`false`); the state lasts while any holds.
fn hold(active: &mut u32, start: bool) {
    if start {
        *active += 1;
    } else {
        *active = active.saturating_sub(1);
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
            disk.append("f", b"durable").expect("room");
            disk.sync("f");
            disk.append("f", b"-pending").expect("room");
            disk.crash(Unsynced::Prefix, &mut rng);
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

    #[test]
    fn an_fsync_covers_what_was_written_before_it_was_asked_for() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut disk = SimDisk::default();
        disk.append("f", b"one").expect("room");
        let first = disk.request_sync();
        disk.append("f", b"two").expect("room");
        let second = disk.request_sync();
        assert_eq!(disk.start_next_sync(), Some(first));
        assert_eq!(disk.start_next_sync(), Some(second));
        disk.complete_sync(first);
        assert_eq!(
            disk.unsynced_bytes(),
            3,
            "the second write is not durable yet"
        );
        disk.crash(Unsynced::Lost, &mut rng);
        assert_eq!(disk.read("f"), b"one");
        disk.complete_sync(second);
        assert_eq!(disk.read("f"), b"one", "a crash cancels fsyncs in flight");
    }

    #[test]
    fn a_torn_write_keeps_its_length_and_reads_zeros_where_it_was_lost() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut lengths = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let mut disk = SimDisk::default();
            disk.append("f", b"ok").expect("room");
            disk.sync("f");
            disk.append("f", b"abcd").expect("room");
            disk.crash(Unsynced::Torn, &mut rng);
            let bytes = disk.read("f");
            assert_eq!(bytes.len(), 6);
            let kept = bytes[2..].iter().take_while(|&&b| b != 0).count();
            assert_eq!(&bytes[2..2 + kept], &b"abcd"[..kept]);
            assert!(bytes[2 + kept..].iter().all(|&b| b == 0));
            lengths.insert(kept);
        }
        assert_eq!(lengths.len(), 5);
    }

    #[test]
    fn a_full_disk_refuses_appends_until_it_heals() {
        let mut disk = SimDisk::default();
        disk.set_full(true);
        assert_eq!(disk.append("f", b"x"), Err(DiskFull));
        disk.set_full(false);
        assert_eq!(disk.append("f", b"x"), Ok(()));
        assert_eq!(disk.appends_refused, 1);
    }

    #[test]
    fn corruption_hits_only_durable_bytes() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut disk = SimDisk::default();
        disk.append("f", b"durable").expect("room");
        disk.sync("f");
        disk.append("f", b"pending").expect("room");
        let hit = disk.corrupt(50, &mut rng, None);
        assert_eq!(hit.len(), 50);
        assert_eq!(disk.lies, 1, "corruption takes synced data: one lie");
        assert!(hit.iter().all(|(file, at)| file == "f" && *at < 7));
        assert_eq!(&disk.read("f")[7..], b"pending");
    }

    #[test]
    fn a_failed_fsync_dooms_its_pages_even_after_a_later_fsync_passes() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut disk = SimDisk::default();
        disk.append("f", b"kept").expect("room");
        disk.sync("f");
        disk.append("f", b"doomed").expect("room");
        disk.set_failing(true);
        assert!(disk.is_failing());
        let sync = disk.request_sync();
        assert_eq!(disk.start_next_sync(), Some(sync));
        disk.fail_sync(sync);
        assert_eq!(disk.read("f"), b"keptdoomed", "the pages still read back");
        disk.set_failing(false);
        assert!(!disk.is_failing());
        disk.append("f", b"-later").expect("room");
        let again = disk.request_sync();
        assert_eq!(disk.start_next_sync(), Some(again));
        disk.complete_sync(again);
        assert_eq!(disk.unsynced_bytes(), 0, "the retry says all is durable");
        disk.crash(Unsynced::Lost, &mut rng);
        assert_eq!(
            disk.read("f"),
            b"kept\0\0\0\0\0\0-later",
            "but the crash zeroes them"
        );
        assert_eq!(disk.lies, 0, "the disk said so: an error is no lie");
    }

    #[test]
    fn a_wipe_loses_every_file_and_a_lost_tail_only_synced_bytes_of_the_largest() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let mut disk = SimDisk::default();
        disk.append("small", b"ab").expect("room");
        disk.append("large", b"0123456789").expect("room");
        disk.sync("small");
        disk.sync("large");
        let (file, had, kept) = disk
            .lose_synced_tail(&mut rng, None)
            .expect("something synced");
        assert_eq!((file.as_str(), had), ("large", 10));
        assert!(kept < 10, "at least one byte lost");
        assert_eq!(disk.read("large"), &b"0123456789"[..kept]);
        assert_eq!(disk.read("small"), b"ab");
        assert_eq!(disk.lies, 1);
        disk.overwrite("meta", b"xyz");
        assert_eq!(disk.read("meta"), b"xyz");
        disk.overwrite("meta", b"q");
        assert_eq!(disk.read("meta"), b"q", "replaced whole, durably");
        assert_eq!(disk.unsynced_bytes(), 0);
        disk.wipe();
        assert!(disk.is_empty());
        assert_eq!(disk.lies, 2);
        // Every suffix can be lost, from one byte to all of them.
        let mut kept = std::collections::BTreeSet::new();
        for _ in 0..300 {
            let mut disk = SimDisk::default();
            disk.append("f", b"0123456789").expect("room");
            disk.sync("f");
            let (_, _, left) = disk.lose_synced_tail(&mut rng, None).expect("synced");
            kept.insert(left);
        }
        assert_eq!(
            kept.into_iter().collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        assert_eq!(
            disk.lose_synced_tail(&mut rng, None),
            None,
            "nothing left to lose"
        );
        disk.append("f", b"unsynced").expect("room");
        assert_eq!(
            disk.lose_synced_tail(&mut rng, None),
            None,
            "nothing synced to lose"
        );
    }
}
