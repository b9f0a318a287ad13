//! The log store: writes the core's persist batches as framed records, and
//! rebuilds the durable state from them after a crash.

use std::fmt;
use std::io;

use ryw_core::codec::{decode_record, encode_record};
use ryw_core::durable::{replay, PersistBatch};
use ryw_core::{log::Log, Durable};

use crate::frame::{self, Frame, HEADER};
use crate::meta::{self, Meta, META_FILES};
use crate::Disk;

/// The one file the store keeps: term, vote and log.
pub const LOG_FILE: &str = "raft.log";

/// Whose data this is: the node id and the members it was first used by.
pub const OWNER_FILE: &str = "owner.json";

pub struct LogStore<D: Disk> {
    disk: D,
    /// Bytes of the file known to be written whole.
    length: u64,
    /// The superblock as last read or written.
    superblock: Option<Meta>,
    /// Reused for each batch.
    buffer: Vec<u8>,
    text: String,
    /// What this store has written and synced since it was opened.
    pub stats: WriteStats,
}

/// Counts of a store's work, for benchmarks and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Log entries written (a rewritten entry counts again).
    pub entries: u64,
    pub bytes: u64,
    pub syncs: u64,
}

/// What recovery found.
#[derive(Debug)]
pub struct Recovered {
    pub durable: Durable,
    pub records: usize,
    /// A torn tail cut off: (offset, bytes cut, what was wrong there). It
    /// was never synced, so nothing was acknowledged from it.
    pub cut: Option<(u64, u64, String)>,
    /// Durable state this disk should hold and does not. The node then
    /// boots recovering ([`Durable::recovering`]) and catches up from its
    /// peers before it votes.
    pub lost: Option<Loss>,
}

/// What a disk lost, as recovery can tell it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loss {
    /// No log and no superblock: a brand-new node, or one whose data
    /// directory was deleted. Only the peers can tell which.
    Empty,
    /// The superblock says `synced` bytes of the log were made durable, but
    /// the log holds whole records only up to byte `found`: a cut file, or
    /// a disk that lost what it promised.
    SyncedTail { synced: u64, found: u64 },
    /// A record that was written whole fails its check at `offset`: it and
    /// everything after it were dropped.
    Corrupt { offset: u64, why: String },
    /// A log with records but no superblock: a directory written by an
    /// older version, or one whose superblock was deleted.
    NoSuperblock,
    /// A copy of the superblock fails its check: the length it held, which
    /// the other copy may not reach, is unknown.
    SuperblockDamaged,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loss::Empty => write!(f, "no {LOG_FILE} and no superblock (a new node, or a deleted data directory)"),
            Loss::SyncedTail { synced, found } => write!(
                f,
                "{LOG_FILE} holds {found} bytes of whole records, but {synced} bytes were synced (the file was cut, or the disk lost synced writes)"
            ),
            Loss::Corrupt { offset, why } => write!(
                f,
                "{LOG_FILE} is damaged at byte {offset} ({why}); that record and every later one were dropped"
            ),
            Loss::NoSuperblock => write!(
                f,
                "{LOG_FILE} has records but there is no superblock ({} or {})",
                META_FILES[0], META_FILES[1]
            ),
            Loss::SuperblockDamaged => write!(
                f,
                "a copy of the superblock ({} or {}) is damaged, so how much of {LOG_FILE} was synced is not known",
                META_FILES[0], META_FILES[1]
            ),
        }
    }
}

/// Why a node cannot start from its data file.
#[derive(Debug)]
pub enum RecoveryError {
    Io(io::Error),
    /// The file does not start with our header.
    NotALog {
        file: String,
    },
    /// A record that is intact but means nothing sensible.
    Unreadable {
        file: String,
        offset: u64,
        why: String,
    },
}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryError::Io(e) => write!(f, "reading {LOG_FILE}: {e}"),
            RecoveryError::NotALog { file } => write!(
                f,
                "{file} is not a ryw-node log (wrong header); refusing to start. If this is \
                 the right directory, move the file away: the node then starts empty and \
                 catches up from its peers"
            ),
            RecoveryError::Unreadable { file, offset, why } => write!(
                f,
                "{file}: the record at byte {offset} is intact but unreadable ({why}); refusing \
                 to start. Move the file away (keep it for a bug report): the node then starts \
                 empty and catches up from its peers"
            ),
        }
    }
}

impl std::error::Error for RecoveryError {}

impl From<io::Error> for RecoveryError {
    fn from(e: io::Error) -> Self {
        RecoveryError::Io(e)
    }
}

impl<D: Disk> LogStore<D> {
    /// Opens the store on `disk` and rebuilds the durable state from it:
    /// a torn tail past what was synced is cut; synced records that are
    /// missing, corrupt records (with everything after them) and a missing
    /// superblock are reported as [`Loss`], and the state recovered is
    /// marked recovering. Refused: a file that is not ours, and an intact
    /// record that makes no sense.
    // Longer than 70 lines on purpose: recovery is one pass over the file, record by record, and each way it can end is a case here, next to the others.
    pub fn open(mut disk: D) -> Result<(LogStore<D>, Recovered), RecoveryError> {
        let bytes = disk.read_all(LOG_FILE)?;
        let superblock = meta::read(&mut disk)?;
        let damaged_copies = meta::damaged_copies(&mut disk)?;
        let synced = superblock.map_or(0, |m| m.log_synced_bytes);
        let file = || LOG_FILE.to_owned();
        let mut recovered = Recovered {
            durable: Durable::default(),
            records: 0,
            cut: None,
            lost: None,
        };
        // A first write torn inside the header: cut short, or zeroed from
        // within it to the end of the file.
        let zeros = frame::zeros_from(&bytes);
        let header_torn =
            bytes.len() < HEADER.len() || (zeros < HEADER.len() && zeros < bytes.len());
        let checked = if header_torn { zeros } else { HEADER.len() };
        let header_bits_off: u32 = bytes[..checked]
            .iter()
            .zip(HEADER)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        // One flipped bit is our header damaged; more is someone else's file.
        if header_bits_off > 1 {
            return Err(RecoveryError::NotALog { file: file() });
        }
        let mut records = Vec::new();
        let mut at = if header_torn { 0 } else { HEADER.len() };
        let mut damaged = None;
        if header_bits_off == 1 {
            at = 0;
            damaged = Some(Loss::Corrupt {
                offset: 0,
                why: "a flipped bit in the header".into(),
            });
        }
        while !header_torn && damaged.is_none() {
            match frame::read(&bytes, at) {
                Frame::End => break,
                Frame::Intact { payload, next } => {
                    let unreadable = |why: String| RecoveryError::Unreadable {
                        file: file(),
                        offset: at as u64,
                        why,
                    };
                    let text =
                        std::str::from_utf8(payload).map_err(|e| unreadable(e.to_string()))?;
                    records.push(decode_record(text).map_err(unreadable)?);
                    at = next;
                }
                // Past what the superblock says was synced, nothing was
                // acknowledged: whatever is there (a crash after a failed
                // fsync leaves zeros before later writes) is cut like a
                // torn tail.
                Frame::Corrupt(why) if superblock.is_some() && at as u64 >= synced => {
                    let why = format!("{why}, past the {synced} bytes synced");
                    recovered.cut = Some((at as u64, (bytes.len() - at) as u64, why));
                    break;
                }
                Frame::Corrupt(why) => {
                    damaged = Some(Loss::Corrupt {
                        offset: at as u64,
                        why,
                    });
                    break;
                }
                Frame::Torn(why) => {
                    recovered.cut = Some((at as u64, (bytes.len() - at) as u64, why));
                    break;
                }
            }
        }
        if at < bytes.len() {
            disk.truncate(LOG_FILE, at as u64)?;
        }
        if header_torn && !bytes.is_empty() {
            recovered.cut = Some((0, bytes.len() as u64, "a torn header".into()));
        }
        recovered.lost = damaged.or_else(|| {
            if (at as u64) < synced {
                Some(Loss::SyncedTail {
                    synced,
                    found: at as u64,
                })
            } else if damaged_copies > 0 {
                Some(Loss::SuperblockDamaged)
            } else if superblock.is_some() {
                None
            } else if !records.is_empty() {
                Some(Loss::NoSuperblock)
            } else {
                Some(Loss::Empty)
            }
        });
        recovered.records = records.len();
        recovered.durable = replay(records).map_err(|why| RecoveryError::Unreadable {
            file: file(),
            offset: HEADER.len() as u64,
            why,
        })?;
        recovered.durable.recovering |= recovered.lost.is_some();
        recovered.durable.lost |= recovered.lost.as_ref().is_some_and(|l| *l != Loss::Empty);
        let mut store = LogStore::on(disk, at as u64);
        store.superblock = superblock;
        Ok((store, recovered))
    }

    /// A store on a log of `length` bytes that someone else's recovery
    /// read (the superblock is read here, so its sequence carries on).
    pub fn resume(mut disk: D, length: u64) -> LogStore<D> {
        let superblock = meta::read(&mut disk).ok().flatten();
        let mut store = LogStore::on(disk, length);
        store.superblock = superblock;
        store
    }

    fn on(disk: D, length: u64) -> LogStore<D> {
        LogStore {
            disk,
            length,
            superblock: None,
            buffer: Vec::new(),
            text: String::new(),
            stats: WriteStats::default(),
        }
    }

    /// Bytes of the log written so far (what an fsync asked for now covers).
    pub fn length(&self) -> u64 {
        self.length
    }

    pub fn write(&mut self, batch: &PersistBatch, log: &Log) -> io::Result<()> {
        self.buffer.clear();
        if self.length == 0 {
            self.buffer.extend_from_slice(HEADER);
        }
        let mut entries = 0;
        for record in batch.records(log) {
            entries += u64::from(matches!(record, ryw_core::durable::Record::Entry { .. }));
            self.text.clear();
            encode_record(&record, &mut self.text);
            frame::encode(self.text.as_bytes(), &mut self.buffer);
        }
        if let Err(e) = self.disk.append(LOG_FILE, &self.buffer) {
            let _ = self.disk.truncate(LOG_FILE, self.length);
            return Err(e);
        }
        self.length += self.buffer.len() as u64;
        self.stats.entries += entries;
        self.stats.bytes += self.buffer.len() as u64;
        Ok(())
    }

    /// fsyncs the log, then records in the superblock how much of it is
    /// durable. Only then may what it covers be acknowledged.
    pub fn sync(&mut self) -> io::Result<()> {
        self.disk.sync(LOG_FILE)?;
        self.stats.syncs += 1;
        self.record_synced(self.length)
    }

    /// An fsync that covered the first `length` bytes of the log completed
    /// (the simulator completes fsyncs itself): the superblock says so.
    pub fn record_synced(&mut self, length: u64) -> io::Result<()> {
        if self
            .superblock
            .is_some_and(|m| m.log_synced_bytes == length)
        {
            return Ok(());
        }
        let next = Meta {
            sequence: self.superblock.map_or(0, |m| m.sequence + 1),
            log_synced_bytes: length,
        };
        meta::write(&mut self.disk, next)?;
        self.superblock = Some(next);
        Ok(())
    }

    /// Checks that this data belongs to node `me` of `members`, recording
    /// it on first use (`owner.json`, written durably). A directory that
    /// was another node's, or another cluster's, is refused: its votes and
    /// log are not this node's to act on.
    pub fn claim(&mut self, me: &str, members: &[String]) -> Result<(), String> {
        let mine = serde_json::json!({ "node_id": me, "node_ids": members }).to_string();
        let recorded = self
            .disk
            .read_all(OWNER_FILE)
            .map_err(|e| format!("reading {OWNER_FILE}: {e}"))?;
        if recorded.is_empty() {
            return self
                .disk
                .overwrite(OWNER_FILE, mine.as_bytes())
                .map_err(|e| format!("writing {OWNER_FILE}: {e}"));
        }
        if recorded == mine.as_bytes() {
            return Ok(());
        }
        Err(format!(
            "this data directory belongs to {} (see {OWNER_FILE}), not to {mine}: refusing to start \
             as another node or in another cluster. Give each node its own directory; to reuse \
             this one for a new node, empty it first",
            String::from_utf8_lossy(&recorded)
        ))
    }

    pub fn disk(&self) -> &D {
        &self.disk
    }

    pub fn disk_mut(&mut self) -> &mut D {
        &mut self.disk
    }

    pub fn into_disk(self) -> D {
        self.disk
    }
}

#[derive(Debug, Default)]
pub struct Unwritten {
    batches: Vec<PersistBatch>,
}

/// What [`Unwritten::write_to`] managed.
#[derive(Debug)]
pub struct Written {
    /// The newest batch now written (not yet synced), if any was.
    pub newest: Option<u64>,
    /// Why the rest was not written.
    pub error: Option<io::Error>,
}

impl Unwritten {
    pub fn push(&mut self, batch: PersistBatch) {
        self.batches.push(batch);
    }

    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Writes the waiting batches in order, until one fails.
    pub fn write_to<D: Disk>(&mut self, store: &mut LogStore<D>, log: &Log) -> Written {
        let mut written = Written {
            newest: None,
            error: None,
        };
        let mut done = 0;
        for batch in &self.batches {
            if let Err(e) = store.write(batch, log) {
                written.error = Some(e);
                break;
            }
            written.newest = Some(batch.number);
            done += 1;
        }
        self.batches.drain(..done);
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ryw_core::durable::HardState;
    use ryw_core::{Command, Entry, Id, Key, Value};

    /// A disk in memory: the log in `bytes`, the superblock's copies in
    /// `others`; `full` makes appends fail.
    #[derive(Default, Clone)]
    struct MemDisk {
        bytes: Vec<u8>,
        others: std::collections::BTreeMap<String, Vec<u8>>,
        full: bool,
        /// Bytes of the log made durable by the last sync.
        synced: usize,
    }

    impl Disk for MemDisk {
        fn read_all(&mut self, file: &str) -> io::Result<Vec<u8>> {
            if file == LOG_FILE {
                return Ok(self.bytes.clone());
            }
            Ok(self.others.get(file).cloned().unwrap_or_default())
        }
        fn overwrite(&mut self, file: &str, bytes: &[u8]) -> io::Result<()> {
            self.others.insert(file.to_owned(), bytes.to_vec());
            Ok(())
        }
        fn append(&mut self, _: &str, bytes: &[u8]) -> io::Result<()> {
            if self.full {
                // Half of it made it before the disk filled up.
                self.bytes.extend_from_slice(&bytes[..bytes.len() / 2]);
                return Err(io::Error::other("no space left on device"));
            }
            self.bytes.extend_from_slice(bytes);
            Ok(())
        }
        fn truncate(&mut self, _: &str, length: u64) -> io::Result<()> {
            self.bytes.truncate(length as usize);
            Ok(())
        }
        fn sync(&mut self, _: &str) -> io::Result<()> {
            self.synced = self.bytes.len();
            Ok(())
        }
    }

    fn entry(term: u64, value: i64) -> Entry {
        Entry {
            term,
            command: Command::Write {
                key: Key::Int(1),
                value: Value::from(value),
            },
            request: None,
        }
    }

    /// Writes two batches (a vote and entries, synced; a new term and a
    /// truncation, not synced) and returns the disk, the durable state
    /// they describe, and the length the first made durable.
    fn written_in_part() -> (MemDisk, Durable, usize) {
        let (mut store, _) = LogStore::open(MemDisk::default()).expect("empty disk");
        let mut durable = Durable {
            current_term: 2,
            voted_for: Some(Id::Node(2)),
            starts: 1,
            ..Durable::default()
        };
        for (k, value) in [(1, 10), (2, 20), (2, 30)] {
            durable.log.append(entry(k, value));
        }
        let first = PersistBatch {
            number: 1,
            hard_state: Some(durable.hard_state()),
            entries_from: Some(1),
        };
        store.write(&first, &durable.log).expect("writes");
        store.sync().expect("syncs");
        let synced = store.disk().synced;
        // A new leader replaces entry 3.
        durable.current_term = 3;
        durable.voted_for = None;
        durable.log.truncate_from(3);
        durable.log.append(entry(3, 31));
        let second = PersistBatch {
            number: 2,
            hard_state: Some(HardState {
                current_term: 3,
                voted_for: None,
                starts: 1,
                recovering: false,
                lost: false,
            }),
            entries_from: Some(3),
        };
        store.write(&second, &durable.log).expect("writes");
        (store.into_disk(), durable, synced)
    }

    /// Both batches written and synced.
    fn written() -> (MemDisk, Durable) {
        let (disk, durable, _) = written_in_part();
        let (mut store, recovered) = LogStore::open(disk).expect("recovers");
        assert!(recovered.lost.is_none());
        store.sync().expect("syncs");
        (store.into_disk(), durable)
    }

    #[test]
    fn what_was_written_is_what_recovery_rebuilds() {
        let (disk, durable) = written();
        let (_, recovered) = LogStore::open(disk).expect("recovers");
        assert_eq!(recovered.durable, durable);
        assert_eq!(recovered.records, 6);
        assert!(recovered.cut.is_none());
    }

    #[test]
    fn a_tail_torn_at_any_byte_is_cut_and_only_a_cut_below_the_synced_length_is_a_loss() {
        let (disk, durable, synced) = written_in_part();
        let whole = disk.bytes.len();
        let mut kept_entries = Vec::new();
        for length in 0..whole {
            let mut torn = disk.clone();
            torn.bytes.truncate(length);
            let (store, recovered) = LogStore::open(torn).expect("a torn tail is no error");
            assert!(recovered.durable.log.last_index() <= 3);
            assert!(recovered.durable.current_term <= durable.current_term);
            if length < synced {
                assert!(
                    matches!(recovered.lost, Some(Loss::SyncedTail { synced: s, .. }) if s as usize == synced),
                    "cut to {length}: {:?}",
                    recovered.lost
                );
                assert!(recovered.durable.recovering);
            } else {
                assert_eq!(recovered.lost, None, "cut to {length}: never synced");
                assert!(!recovered.durable.recovering);
            }
            // Whatever is kept is whole records: the file is cut to them.
            let (_, again) = LogStore::open(store.into_disk()).expect("recovers again");
            assert!(again.cut.is_none(), "cut once, clean after");
            kept_entries.push(recovered.records);
        }
        assert!(
            kept_entries.windows(2).all(|w| w[0] <= w[1]),
            "longer file, more kept"
        );
    }

    #[test]
    fn damage_is_cut_off_with_everything_after_it_and_reported_with_the_offset() {
        let (disk, _) = written();
        let mut bad = disk.clone();
        let offset = HEADER.len() + 12; // inside the first record's payload
        bad.bytes[offset] ^= 0x10;
        let (store, recovered) = LogStore::open(bad).expect("repaired from peers, not refused");
        let lost = recovered.lost.expect("a loss");
        assert!(matches!(lost, Loss::Corrupt { offset: 8, .. }), "{lost:?}");
        let text = lost.to_string();
        assert!(
            text.contains("raft.log") && text.contains("byte 8"),
            "{text}"
        );
        assert_eq!(recovered.records, 0, "nothing after the damage is trusted");
        assert!(recovered.durable.recovering);
        assert_eq!(store.disk().bytes.len(), HEADER.len());
        // Until the recovering state is synced, a restart still sees a loss.
        let (_, again) = LogStore::open(store.into_disk()).expect("recovers");
        assert!(matches!(again.lost, Some(Loss::SyncedTail { .. })));
    }

    #[test]
    fn a_flipped_bit_anywhere_even_in_the_last_record_is_never_trusted() {
        let (disk, durable) = written();
        for bit in HEADER.len() * 8..disk.bytes.len() * 8 {
            let mut bad = disk.clone();
            bad.bytes[bit / 8] ^= 1 << (bit % 8);
            let (_, recovered) = LogStore::open(bad)
                .unwrap_or_else(|e| panic!("bit {bit} flipped was refused: {e}"));
            assert!(
                matches!(recovered.lost, Some(Loss::Corrupt { .. })),
                "bit {bit}: {:?}",
                recovered.lost
            );
            assert!(recovered.durable.recovering);
            assert!(
                recovered.durable.log.last_index() < durable.log.last_index()
                    || recovered.records < 6
            );
        }
    }

    #[test]
    fn a_torn_write_zeroed_from_any_byte_is_cut_and_the_rest_kept() {
        let (disk, durable, synced) = written_in_part();
        for from in 0..disk.bytes.len() {
            let mut torn = disk.clone();
            torn.bytes[from..].fill(0);
            let (store, recovered) =
                LogStore::open(torn).unwrap_or_else(|e| panic!("zeroed from byte {from}: {e}"));
            assert!(recovered.cut.is_some() || from == disk.bytes.len());
            assert!(recovered.durable.log.last_index() <= durable.log.last_index());
            assert_eq!(
                recovered.lost.is_some(),
                from < synced,
                "zeroed from {from}"
            );
            let (_, again) = LogStore::open(store.into_disk()).expect("recovers again");
            assert!(again.cut.is_none(), "cut once, clean after");
        }
    }

    #[test]
    fn damage_past_the_synced_length_is_cut_like_a_torn_tail() {
        let (disk, _, synced) = written_in_part();
        for at in synced..disk.bytes.len() {
            let mut bad = disk.clone();
            bad.bytes[at] ^= 0x20;
            let (store, recovered) = LogStore::open(bad).expect("opens");
            assert_eq!(
                recovered.lost, None,
                "byte {at}: never synced, never acknowledged"
            );
            let (offset, cut, _) = recovered.cut.expect("cut");
            assert_eq!(
                (offset + cut) as usize,
                disk.bytes.len(),
                "byte {at}: cut to the end"
            );
            assert_eq!(store.length(), offset, "the store goes on from the cut");
            assert_eq!(
                recovered.durable.log.last_index(),
                3,
                "byte {at}: the synced batch stays"
            );
        }
    }

    #[test]
    fn one_flipped_header_bit_is_damage_to_repair_two_are_someone_elses_file() {
        let (disk, _) = written();
        for bit in 0..HEADER.len() * 8 {
            let mut bad = disk.clone();
            bad.bytes[bit / 8] ^= 1 << (bit % 8);
            let (store, recovered) =
                LogStore::open(bad).unwrap_or_else(|e| panic!("bit {bit}: {e}"));
            assert!(
                matches!(recovered.lost, Some(Loss::Corrupt { offset: 0, .. })),
                "bit {bit}: {:?}",
                recovered.lost
            );
            assert_eq!((recovered.records, store.length()), (0, 0), "bit {bit}");
            assert!(recovered.durable.recovering && recovered.durable.lost);
        }
        let mut bad = disk.clone();
        bad.bytes[0] ^= 0b11;
        let error = LogStore::open(bad).err().expect("refused");
        let text = error.to_string();
        assert!(matches!(error, RecoveryError::NotALog { .. }));
        assert!(
            text.contains("raft.log is not a ryw-node log") && text.contains("move the file away"),
            "{text}"
        );
    }

    #[test]
    fn a_directory_is_claimed_by_the_first_node_and_refuses_any_other() {
        let (mut store, _) = LogStore::open(MemDisk::default()).expect("empty");
        let members = ["n1".to_owned(), "n2".to_owned()];
        store.claim("n1", &members).expect("first use");
        store.claim("n1", &members).expect("the same node again");
        let other = store.claim("n2", &members).expect_err("another node");
        assert!(other.contains(r#"belongs to {"node_id":"n1""#), "{other}");
        let cluster = store
            .claim("n1", &members[..1])
            .expect_err("another cluster");
        assert!(cluster.contains("another cluster"), "{cluster}");
    }

    #[test]
    fn an_empty_disk_and_a_log_without_superblock_are_losses_the_node_cannot_judge_alone() {
        let (_, recovered) = LogStore::open(MemDisk::default()).expect("empty");
        assert_eq!(recovered.lost, Some(Loss::Empty));
        assert!(recovered.durable.recovering);
        assert!(
            !recovered.durable.lost,
            "it may be brand new: nothing known lost"
        );
        let (mut disk, _) = written();
        disk.others.clear();
        let (_, recovered) = LogStore::open(disk).expect("opens");
        assert_eq!(recovered.lost, Some(Loss::NoSuperblock));
        assert!(recovered.durable.recovering && recovered.durable.lost);
    }

    #[test]
    fn a_damaged_superblock_copy_keeps_the_log_but_trusts_nothing_without_the_peers() {
        let (disk, durable) = written();
        assert_eq!(disk.others.len(), 2, "two syncs, both copies written");
        for file in META_FILES {
            for damage in 0..3 {
                let mut bad = disk.clone();
                let copy = bad.others.get_mut(file).expect("written");
                match damage {
                    0 => copy.truncate(copy.len() / 2),
                    1 => copy[9] ^= 1,
                    _ => copy.clear(),
                }
                let (_, recovered) = LogStore::open(bad).expect("opens");
                let expected = (damage < 2).then_some(Loss::SuperblockDamaged);
                assert_eq!(recovered.lost, expected, "{file}, damage {damage}");
                assert_eq!(recovered.durable.log, durable.log, "the log is kept");
                assert_eq!(recovered.durable.recovering, damage < 2);
            }
        }
    }

    #[test]
    fn someone_elses_file_is_refused() {
        let disk = MemDisk {
            bytes: b"hello world, not a log".to_vec(),
            ..MemDisk::default()
        };
        assert!(matches!(
            LogStore::open(disk),
            Err(RecoveryError::NotALog { .. })
        ));
    }

    #[test]
    fn a_failed_write_leaves_the_file_whole() {
        let (disk, durable) = written();
        let length = disk.bytes.len();
        let (mut store, _) = LogStore::open(MemDisk { full: true, ..disk }).expect("opens");
        let batch = PersistBatch {
            number: 3,
            hard_state: Some(durable.hard_state()),
            entries_from: None,
        };
        assert!(store.write(&batch, &durable.log).is_err());
        assert_eq!(
            store.disk().bytes.len(),
            length,
            "the half-written batch is cut back off"
        );
        store.disk_mut().full = false;
        store.write(&batch, &durable.log).expect("room again");
        let (_, recovered) = LogStore::open(store.into_disk()).expect("recovers");
        assert_eq!(recovered.durable, durable);
    }

    #[test]
    fn batches_a_full_disk_refused_are_written_on_the_next_try() {
        let (disk, durable) = written();
        let (mut store, _) = LogStore::open(MemDisk { full: true, ..disk }).expect("opens");
        let mut unwritten = Unwritten::default();
        assert!(unwritten.is_empty());
        unwritten.push(PersistBatch {
            number: 3,
            hard_state: Some(durable.hard_state()),
            entries_from: None,
        });
        let first = unwritten.write_to(&mut store, &durable.log);
        assert_eq!(first.newest, None);
        assert!(first.error.is_some());
        assert_eq!(unwritten.len(), 1, "kept for the next try");
        assert!(!unwritten.is_empty());
        store.disk_mut().full = false;
        let second = unwritten.write_to(&mut store, &durable.log);
        assert_eq!(second.newest, Some(3));
        assert!(second.error.is_none());
        assert_eq!(unwritten.len(), 0);
    }

    #[test]
    fn a_sync_reaches_the_disk_and_the_store_counts_its_work() {
        let (mut store, _) = LogStore::open(MemDisk::default()).expect("empty disk");
        let mut log = ryw_core::log::Log::default();
        log.append(entry(1, 10));
        log.append(entry(1, 11));
        let batch = PersistBatch {
            number: 1,
            hard_state: None,
            entries_from: Some(1),
        };
        store.write(&batch, &log).expect("writes");
        assert_eq!(store.disk().synced, 0, "written, not yet durable");
        store.sync().expect("syncs");
        assert_eq!(store.disk().synced, store.disk().bytes.len());
        let stats = store.stats;
        assert_eq!((stats.entries, stats.syncs), (2, 1));
        assert_eq!(stats.bytes, store.disk().bytes.len() as u64);
        store.write(&batch, &log).expect("writes again");
        assert_eq!(store.stats.entries, 4);
        assert_eq!(store.stats.bytes, store.disk().bytes.len() as u64);
    }

    #[test]
    fn a_cut_reports_where_and_how_much() {
        let (disk, _) = written();
        let whole = disk.bytes.len();
        let torn = MemDisk {
            bytes: disk.bytes[..whole - 5].to_vec(),
            ..MemDisk::default()
        };
        let (store, recovered) = LogStore::open(torn).expect("recovers");
        let (offset, bytes, _) = recovered.cut.expect("a torn tail was cut");
        assert_eq!(offset as usize, store.disk().bytes.len());
        assert_eq!((offset + bytes) as usize, whole - 5);
    }
}
