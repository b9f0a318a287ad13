//! The log store: writes the core's persist batches as framed records, and
//! rebuilds the durable state from them after a crash.

use std::fmt;
use std::io;

use std::sync::Arc;

use ryw_core::durable::{replay, PersistBatch};
use ryw_core::{log::Log, Durable, Snapshot};

use crate::frame::{self, Frame};
use crate::meta::{self, Meta, META_FILES};
use crate::record::{LogFormat, HEADER};
use crate::snapshot_file::{self, SNAPSHOT_FILE};
use crate::Disk;

/// The log file: term, vote and log, as records. A compaction writes the
/// log anew under the other name of [`LOG_FILES`] and the superblock
/// switches to it; this is the name of generation 0, 2, 4, ...
pub const LOG_FILE: &str = "raft.log";

/// The two names a log file takes in turns: generation `g` is
/// `LOG_FILES[g % 2]`.
pub const LOG_FILES: [&str; 2] = [LOG_FILE, "raft.log.1"];

/// The log file of generation `generation`.
pub fn log_file(generation: u64) -> &'static str {
    LOG_FILES[(generation % 2) as usize]
}

/// Whose data this is: the node id and the members it was first used by.
pub const OWNER_FILE: &str = "owner.json";

pub struct LogStore<D: Disk> {
    pub(crate) disk: D,
    /// Bytes of the current log file known to be written whole.
    pub(crate) length: u64,
    /// The current log file's generation (see [`log_file`]).
    pub(crate) generation: u64,
    /// The superblock as last read or written.
    pub(crate) superblock: Option<Meta>,
    /// The current log file's format: what its header says, so that a log
    /// an older version wrote is appended to in kind.
    pub(crate) format: LogFormat,
    /// Reused for each batch.
    pub(crate) buffer: Vec<u8>,
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
    /// Snapshots written, and the log files written anew under them.
    pub snapshots: u64,
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
    SyncedTail {
        file: &'static str,
        synced: u64,
        found: u64,
    },
    /// A record that was written whole fails its check at `offset`: it and
    /// everything after it were dropped.
    Corrupt {
        file: &'static str,
        offset: u64,
        why: String,
    },
    /// A log with records but no superblock: a directory written by an
    /// older version, or one whose superblock was deleted.
    NoSuperblock,
    /// A copy of the superblock fails its check: the length it held, which
    /// the other copy may not reach, is unknown.
    SuperblockDamaged,
    /// The snapshot file fails its check at `offset`; the log entries that
    /// need it were dropped.
    SnapshotDamaged { offset: u64, why: String },
    /// The log starts after a snapshot's index, and no snapshot reaches it.
    SnapshotMissing { log_base: u64, snapshot: u64 },
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loss::Empty => write!(f, "no {LOG_FILE} and no superblock (a new node, or a deleted data directory)"),
            Loss::SyncedTail { file, synced, found } => write!(
                f,
                "{file} holds {found} bytes of whole records, but {synced} bytes were synced (the file was cut, or the disk lost synced writes)"
            ),
            Loss::Corrupt { file, offset, why } => write!(
                f,
                "{file} is damaged at byte {offset} ({why}); that record and every later one were dropped"
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
            Loss::SnapshotDamaged { offset, why } => write!(
                f,
                "{SNAPSHOT_FILE} is damaged at byte {offset} ({why}); the log entries after it were dropped"
            ),
            Loss::SnapshotMissing { log_base, snapshot } => write!(
                f,
                "the log starts after index {log_base}, but {SNAPSHOT_FILE} reaches only index {snapshot}; the log entries were dropped"
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
        let superblock = meta::read(&mut disk)?;
        let generation = superblock.map_or(0, |m| m.generation);
        let log_name = log_file(generation);
        let bytes = disk.read_all(log_name)?;
        let damaged_copies = meta::damaged_copies(&mut disk)?;
        let synced = superblock.map_or(0, |m| m.log_synced_bytes);
        let file = || log_name.to_owned();
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
        let (format, header_bits_off) = LogFormat::nearest(&bytes[..checked]);
        // One flipped bit is one of our headers damaged; more is someone
        // else's file.
        if header_bits_off > 1 {
            return Err(RecoveryError::NotALog { file: file() });
        }
        let mut records = Vec::new();
        let mut at = if header_torn { 0 } else { HEADER.len() };
        let mut damaged = None;
        if header_bits_off == 1 {
            at = 0;
            damaged = Some(Loss::Corrupt {
                file: log_name,
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
                    records.push(format.decode(payload).map_err(unreadable)?);
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
                        file: log_name,
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
            disk.truncate(log_name, at as u64)?;
        }
        // A compaction that did not finish left a log the superblock never
        // named: nothing refers to it.
        let orphan = log_file(generation + 1);
        if !disk.read_all(orphan)?.is_empty() {
            disk.truncate(orphan, 0)?;
        }
        let snapshot = snapshot_file::read(&mut disk)?;
        if header_torn && !bytes.is_empty() {
            recovered.cut = Some((0, bytes.len() as u64, "a torn header".into()));
        }
        recovered.lost = damaged.or_else(|| {
            if (at as u64) < synced {
                Some(Loss::SyncedTail {
                    file: log_name,
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
        attach_snapshot(&mut recovered, snapshot);
        recovered.durable.recovering |= recovered.lost.is_some();
        recovered.durable.lost |= recovered.lost.as_ref().is_some_and(|l| *l != Loss::Empty);
        let mut store = LogStore::on(disk, at as u64);
        store.superblock = superblock;
        store.generation = generation;
        // A file cut back to nothing starts again with this version's header.
        if at >= HEADER.len() {
            store.format = format;
        }
        Ok((store, recovered))
    }

    /// A store on a log of `length` bytes that someone else's recovery
    /// read (the superblock is read here, so its sequence carries on, and
    /// the header, so that an older log is appended to in its format).
    pub fn resume(mut disk: D, length: u64) -> LogStore<D> {
        let superblock = meta::read(&mut disk).ok().flatten();
        let generation = superblock.map_or(0, |m| m.generation);
        let header = disk.read_all(log_file(generation)).unwrap_or_default();
        let mut store = LogStore::on(disk, length);
        store.superblock = superblock;
        store.generation = generation;
        if length > 0 && header.starts_with(LogFormat::Json.header()) {
            store.format = LogFormat::Json;
        }
        store
    }

    fn on(disk: D, length: u64) -> LogStore<D> {
        LogStore {
            disk,
            length,
            generation: 0,
            superblock: None,
            format: LogFormat::Binary,
            buffer: Vec::new(),
            stats: WriteStats::default(),
        }
    }

    /// Bytes of the log written so far (what an fsync asked for now covers).
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Where the log stands: its file's generation and its length. An
    /// fsync asked for now covers this much of that file.
    pub fn position(&self) -> (u64, u64) {
        (self.generation, self.length)
    }

    /// The current log file.
    pub fn log_file(&self) -> &'static str {
        log_file(self.generation)
    }

    /// Writes `batch` of `durable`'s changes. A batch with a new snapshot
    /// writes the snapshot, then the log anew from its base (see
    /// [`LogStore::compact`]); both are durable when this returns.
    pub fn write(&mut self, batch: &PersistBatch, durable: &Durable) -> io::Result<()> {
        if batch.snapshot {
            let snapshot = durable
                .snapshot
                .as_ref()
                .expect("a snapshot batch comes with a snapshot");
            self.write_snapshot(snapshot)?;
            return self.compact(durable, batch.compact_to);
        }
        self.buffer.clear();
        if self.length == 0 {
            self.buffer.extend_from_slice(self.format.header());
        }
        let mut entries = 0;
        for record in batch.records(&durable.log) {
            entries += u64::from(matches!(record, ryw_core::durable::Record::Entry { .. }));
            frame::encode_with(&mut self.buffer, |payload| {
                self.format.encode(&record, payload)
            });
        }
        let file = self.log_file();
        if let Err(e) = self.disk.append(file, &self.buffer) {
            let _ = self.disk.truncate(file, self.length);
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
        self.disk.sync(self.log_file())?;
        self.stats.syncs += 1;
        self.record_synced(self.generation, self.length)
    }

    /// An fsync that covered the first `length` bytes of the log file of
    /// `generation` completed (the simulator completes fsyncs itself): the
    /// superblock says so. One that covered a log file since replaced
    /// changes nothing: the new file was synced whole when it took over.
    pub fn record_synced(&mut self, generation: u64, length: u64) -> io::Result<()> {
        let Some(next) = self.superblock_after_sync(generation, length) else {
            return Ok(());
        };
        meta::write(&mut self.disk, next)?;
        self.superblock = Some(next);
        Ok(())
    }

    /// The superblock to write once an fsync covered the first `length`
    /// bytes of the log file of `generation`; `None` when there is nothing
    /// new to say (see [`LogStore::record_synced`]).
    pub(crate) fn superblock_after_sync(&self, generation: u64, length: u64) -> Option<Meta> {
        let said = self
            .superblock
            .is_some_and(|m| m.log_synced_bytes == length && m.generation == generation);
        (generation == self.generation && !said).then(|| Meta {
            sequence: self.superblock.map_or(0, |m| m.sequence + 1),
            log_synced_bytes: length,
            generation,
        })
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
    pub fn write_to<D: Disk>(&mut self, store: &mut LogStore<D>, durable: &Durable) -> Written {
        self.write_some_to(store, durable, true)
    }

    /// Writes the waiting batches in order, until one fails or, unless
    /// `snapshots`, until one carries a snapshot (which writes the
    /// superblock: not while an fsync in flight may write it too).
    pub fn write_some_to<D: Disk>(
        &mut self,
        store: &mut LogStore<D>,
        durable: &Durable,
        snapshots: bool,
    ) -> Written {
        let mut written = Written {
            newest: None,
            error: None,
        };
        // Every batch written here reads the same, current log (a batch
        // names where its entries start; they run to the log's end now).
        // So a batch whose entries start at or after an earlier one's has
        // nothing to add but its hard state, and after a snapshot batch
        // (which writes the current hard state and the whole log anew) the
        // rest have nothing to add at all. Writing them anyway wrote every
        // entry once per batch waiting.
        let mut entries_from_written: Option<u64> = None;
        let mut compacted = false;
        let mut done = 0;
        for batch in &self.batches {
            if batch.snapshot && !snapshots {
                break;
            }
            let covered = batch
                .entries_from
                .zip(entries_from_written)
                .is_some_and(|(from, written)| from >= written);
            let result = if compacted {
                Ok(())
            } else if covered {
                let hard_state_only = PersistBatch {
                    entries_from: None,
                    ..batch.clone()
                };
                store.write(&hard_state_only, durable)
            } else {
                store.write(batch, durable)
            };
            if let Err(e) = result {
                written.error = Some(e);
                break;
            }
            compacted |= batch.snapshot;
            entries_from_written = match (entries_from_written, batch.entries_from) {
                (Some(written), Some(from)) => Some(written.min(from)),
                (written, from) => written.or(from),
            };
            written.newest = Some(batch.number);
            done += 1;
        }
        self.batches.drain(..done);
        written
    }
}

/// Puts the snapshot recovery read under the log it rebuilt. A log that
/// starts after a snapshot's index cannot be applied without that
/// snapshot: when the snapshot is damaged or does not reach the log's base,
/// the log's entries are dropped (the term and vote stay) and the loss is
/// reported, so that the node catches up from its peers.
fn attach_snapshot(recovered: &mut Recovered, snapshot: Result<Option<Snapshot>, (u64, String)>) {
    let log_base = recovered.durable.log.base().0;
    let loss = match snapshot {
        Ok(Some(snapshot)) if snapshot.index >= log_base => {
            recovered.durable.snapshot = Some(Arc::new(snapshot));
            return;
        }
        Ok(Some(snapshot)) => Loss::SnapshotMissing {
            log_base,
            snapshot: snapshot.index,
        },
        Ok(None) if log_base == 0 => return,
        Ok(None) => Loss::SnapshotMissing {
            log_base,
            snapshot: 0,
        },
        Err((offset, why)) => Loss::SnapshotDamaged { offset, why },
    };
    if log_base > 0 {
        recovered.durable.log = Log::default();
    }
    recovered.lost = recovered.lost.take().or(Some(loss));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::HEADER_JSON;
    use ryw_core::durable::HardState;
    use ryw_core::{Command, Entry, Id, Key, Value};
    use std::sync::Arc;

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
        fn append(&mut self, file: &str, bytes: &[u8]) -> io::Result<()> {
            if self.full {
                // Half of it made it before the disk filled up.
                self.file(file).extend_from_slice(&bytes[..bytes.len() / 2]);
                return Err(io::Error::other("no space left on device"));
            }
            self.file(file).extend_from_slice(bytes);
            Ok(())
        }
        fn truncate(&mut self, file: &str, length: u64) -> io::Result<()> {
            self.file(file).truncate(length as usize);
            Ok(())
        }
        fn sync(&mut self, file: &str) -> io::Result<()> {
            if file == LOG_FILE {
                self.synced = self.bytes.len();
            }
            Ok(())
        }
        fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
            let bytes = std::mem::take(self.file(from));
            *self.file(to) = bytes;
            Ok(())
        }
    }

    impl MemDisk {
        fn file(&mut self, file: &str) -> &mut Vec<u8> {
            if file == LOG_FILE {
                return &mut self.bytes;
            }
            self.others.entry(file.to_owned()).or_default()
        }
    }

    /// Writes all of `durable` as batch 1 and syncs it.
    fn write_whole(store: &mut LogStore<MemDisk>, durable: &Durable) {
        let batch = PersistBatch {
            number: 1,
            hard_state: Some(durable.hard_state()),
            entries_from: Some(1),
            snapshot: false,
            compact_to: None,
        };
        store.write(&batch, durable).expect("writes");
        store.sync().expect("syncs");
    }

    /// A snapshot at `index` (of `term`) of what `log`'s entries up to it
    /// make of the state machine.
    fn snapshot_of(log: &Log, index: u64, term: u64, members: Vec<Id>) -> Arc<Snapshot> {
        let mut kv = ryw_core::Kv::default();
        for i in 1..=index {
            kv.apply(i, log.get(i).expect("in the log"));
        }
        Arc::new(Snapshot {
            index,
            term,
            members,
            kv,
        })
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
        written_in_part_as(LogFormat::Binary)
    }

    fn written_in_part_as(format: LogFormat) -> (MemDisk, Durable, usize) {
        let (mut store, _) = LogStore::open(MemDisk::default()).expect("empty disk");
        store.format = format;
        let mut durable = Durable {
            current_term: 2,
            voted_for: Some(Id::Node(2)),
            starts: 1,
            ..Durable::default()
        };
        for (k, value) in [(1, 10), (2, 20), (2, 30)] {
            durable.log.append(entry(k, value));
        }
        write_whole(&mut store, &durable);
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
            snapshot: false,
            compact_to: None,
        };
        store.write(&second, &durable).expect("writes");
        (store.into_disk(), durable, synced)
    }

    /// Both batches written and synced.
    fn written() -> (MemDisk, Durable) {
        written_as(LogFormat::Binary)
    }

    /// [`written`], by a store that writes `format` (`Json`: as a version
    /// before format 3 did).
    fn written_as(format: LogFormat) -> (MemDisk, Durable) {
        let (disk, durable, _) = written_in_part_as(format);
        let (mut store, recovered) = LogStore::open(disk).expect("recovers");
        assert!(recovered.lost.is_none());
        store.sync().expect("syncs");
        (store.into_disk(), durable)
    }

    #[test]
    fn a_log_in_format_2_opens_takes_appends_in_kind_and_compacts_to_format_3() {
        let (disk, mut durable) = written_as(LogFormat::Json);
        assert!(disk.bytes.starts_with(HEADER_JSON));
        let (mut store, recovered) = LogStore::open(disk).expect("recovers");
        assert_eq!((recovered.durable, recovered.lost), (durable.clone(), None));
        assert_eq!(store.format, LogFormat::Json);
        // Appended to in its own format: one file, one format.
        durable.log.append(entry(3, 40));
        let batch = PersistBatch {
            number: 3,
            hard_state: None,
            entries_from: Some(4),
            snapshot: false,
            compact_to: None,
        };
        store.write(&batch, &durable).expect("writes");
        store.sync().expect("syncs");
        let tail = &store.disk().bytes[store.disk().bytes.len() - 1..];
        assert_eq!(tail, b"}", "a JSON record ends the file");
        let (store, recovered) = LogStore::open(store.into_disk()).expect("recovers");
        assert_eq!(recovered.durable, durable);
        // A store resumed on it (a planted bug's own recovery) keeps it too.
        let length = store.length();
        let resumed = LogStore::resume(store.into_disk(), length);
        assert_eq!(resumed.format, LogFormat::Json);
        // The next compaction writes the new log in format 3.
        let mut store = resumed;
        store.compact(&durable, None).expect("compacts");
        assert_eq!(store.format, LogFormat::Binary);
        let file = store.log_file();
        let bytes = store.disk_mut().read_all(file).expect("reads");
        assert!(bytes.starts_with(HEADER));
        let (_, recovered) = LogStore::open(store.into_disk()).expect("recovers");
        assert_eq!((recovered.durable, recovered.lost), (durable, None));
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
        for format in [LogFormat::Binary, LogFormat::Json] {
            flipped_header_bits(format);
        }
    }

    fn flipped_header_bits(format: LogFormat) {
        let (disk, _) = written_as(format);
        for two in 0..HEADER.len() * 8 {
            for one in 0..two {
                let mut bad = disk.clone();
                bad.bytes[one / 8] ^= 1 << (one % 8);
                bad.bytes[two / 8] ^= 1 << (two % 8);
                let refused = LogStore::open(bad).err();
                assert!(
                    matches!(refused, Some(RecoveryError::NotALog { .. })),
                    "{format:?}, bits {one} and {two}"
                );
            }
        }
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
            snapshot: false,
            compact_to: None,
        };
        assert!(store.write(&batch, &durable).is_err());
        assert_eq!(
            store.disk().bytes.len(),
            length,
            "the half-written batch is cut back off"
        );
        store.disk_mut().full = false;
        store.write(&batch, &durable).expect("room again");
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
            snapshot: false,
            compact_to: None,
        });
        let first = unwritten.write_to(&mut store, &durable);
        assert_eq!(first.newest, None);
        assert!(first.error.is_some());
        assert_eq!(unwritten.len(), 1, "kept for the next try");
        assert!(!unwritten.is_empty());
        store.disk_mut().full = false;
        let second = unwritten.write_to(&mut store, &durable);
        assert_eq!(second.newest, Some(3));
        assert!(second.error.is_none());
        assert_eq!(unwritten.len(), 0);
    }

    #[test]
    fn batches_written_together_write_each_entry_once_and_a_snapshot_covers_those_after_it() {
        let (mut store, _) = LogStore::open(MemDisk::default()).expect("empty disk");
        let mut durable = Durable::default();
        let hard_state = durable.hard_state();
        let batch = |number, entries_from, snapshot| PersistBatch {
            number,
            hard_state: Some(hard_state.clone()),
            entries_from,
            snapshot,
            compact_to: None,
        };
        let mut unwritten = Unwritten::default();
        // Three appends and a truncation back to index 2, all waiting.
        for (number, from) in [(1, 1), (2, 2), (3, 3), (4, 2)] {
            unwritten.push(batch(number, Some(from), false));
        }
        for value in 1..=4 {
            durable.log.append(entry(1, value));
        }
        let written = unwritten.write_to(&mut store, &durable);
        assert_eq!((written.newest, unwritten.len()), (Some(4), 0));
        // 1..=4 once; the truncation from 2 rewrites 2..=4 (it starts below
        // the write before it); the rest had nothing new.
        assert_eq!(store.stats.entries, 4);
        store.sync().expect("syncs");
        let (mut store, recovered) = LogStore::open(store.into_disk()).expect("recovers");
        assert_eq!(recovered.durable.log, durable.log);
        // A snapshot batch writes the whole log anew: the batches after it
        // have nothing to add.
        durable.snapshot = Some(snapshot_of(&durable.log, 3, 1, vec![Id::Node(1)]));
        durable.log.compact_to(2);
        durable.log.append(entry(1, 5));
        let mut unwritten = Unwritten::default();
        unwritten.push(batch(5, None, true));
        unwritten.push(batch(6, Some(5), false));
        let before = store.stats.entries;
        let written = unwritten.write_to(&mut store, &durable);
        assert_eq!(written.newest, Some(6));
        assert_eq!(store.stats.entries - before, 3, "entries 3..=5, once");
        let (_, recovered) = LogStore::open(store.into_disk()).expect("recovers");
        assert_eq!(recovered.durable.log, durable.log);
    }

    #[test]
    fn a_sync_reaches_the_disk_and_the_store_counts_its_work() {
        let (mut store, _) = LogStore::open(MemDisk::default()).expect("empty disk");
        let mut durable = Durable::default();
        durable.log.append(entry(1, 10));
        durable.log.append(entry(1, 11));
        let batch = PersistBatch {
            number: 1,
            hard_state: None,
            entries_from: Some(1),
            snapshot: false,
            compact_to: None,
        };
        store.write(&batch, &durable).expect("writes");
        assert_eq!(store.disk().synced, 0, "written, not yet durable");
        store.sync().expect("syncs");
        assert_eq!(store.disk().synced, store.disk().bytes.len());
        let stats = store.stats;
        assert_eq!((stats.entries, stats.syncs), (2, 1));
        assert_eq!(stats.bytes, store.disk().bytes.len() as u64);
        store.write(&batch, &durable).expect("writes again");
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

    /// A store holding entries 1..=10 (terms 1, then 2 from 5), a snapshot
    /// at 8 and the log compacted to 6, written as one snapshot batch.
    fn compacted() -> (LogStore<MemDisk>, Durable) {
        compacted_by(true)
    }

    /// [`compacted`], the node having compacted its log to 6 already
    /// (`in_memory`) or only about to (the batch says where).
    fn compacted_by(in_memory: bool) -> (LogStore<MemDisk>, Durable) {
        let (mut store, _) = LogStore::open(MemDisk::default()).expect("empty disk");
        let mut durable = Durable {
            current_term: 2,
            voted_for: Some(Id::Node(1)),
            starts: 1,
            ..Durable::default()
        };
        for index in 1..=10 {
            durable
                .log
                .append(entry(if index < 5 { 1 } else { 2 }, index));
        }
        write_whole(&mut store, &durable);
        let members = vec![Id::Node(1), Id::Node(2), Id::Node(3)];
        durable.snapshot = Some(snapshot_of(&durable.log, 8, 2, members));
        if in_memory {
            durable.log.compact_to(6);
        }
        let second = PersistBatch {
            number: 2,
            hard_state: None,
            entries_from: None,
            snapshot: true,
            compact_to: (!in_memory).then_some(6),
        };
        store
            .write(&second, &durable)
            .expect("writes the snapshot and the log");
        (store, durable)
    }

    #[test]
    fn a_snapshot_and_the_log_compacted_under_it_recover_together() {
        let (store, durable) = compacted();
        assert_eq!(store.log_file(), LOG_FILES[1], "the new log took over");
        assert_eq!(store.stats.snapshots, 1);
        let mut disk = store.into_disk();
        assert!(
            disk.read_all(LOG_FILE).expect("read").is_empty(),
            "the old log was emptied"
        );
        let (_, recovered) = LogStore::open(disk).expect("recovers");
        assert_eq!(recovered.lost, None);
        assert_eq!(
            recovered.durable,
            Durable {
                starts: 1,
                ..durable
            }
        );
        assert_eq!(recovered.durable.log.base(), (6, 2));
    }

    #[test]
    fn a_snapshot_written_before_the_node_compacts_writes_the_log_it_will_keep() {
        let (store, mut durable) = compacted_by(false);
        assert_eq!(store.stats.entries, 10 + 4, "entries 7..=10 written anew");
        durable.log.compact_to(6);
        let (_, recovered) = LogStore::open(store.into_disk()).expect("recovers");
        assert_eq!(recovered.lost, None);
        assert_eq!(recovered.durable.log, durable.log);
        assert_eq!(recovered.durable.log.base(), (6, 2));
    }

    #[test]
    fn a_crash_before_the_superblock_names_the_new_log_keeps_the_old_one() {
        let (store, durable) = compacted();
        let mut disk = store.into_disk();
        // As if the crash came after the new log was written and synced,
        // but before the superblock named it: the old log is current, and
        // the snapshot (renamed already) is the new one.
        let new_log = disk.read_all(LOG_FILES[1]).expect("read");
        let old_meta = {
            let (mut store, _) = LogStore::open(MemDisk::default()).expect("empty");
            let mut full = durable.clone();
            full.snapshot = None;
            full.log = ryw_core::log::Log::default();
            for index in 1..=10 {
                full.log.append(entry(if index < 5 { 1 } else { 2 }, index));
            }
            write_whole(&mut store, &full);
            store.into_disk()
        };
        let mut crashed = old_meta.clone();
        crashed.others.insert(
            SNAPSHOT_FILE.into(),
            disk.read_all(SNAPSHOT_FILE).expect("read"),
        );
        crashed.others.insert(LOG_FILES[1].into(), new_log);
        let (mut store, recovered) = LogStore::open(crashed).expect("recovers");
        assert_eq!(recovered.lost, None, "nothing was lost");
        assert_eq!(recovered.durable.log.base(), (0, 0), "the old, whole log");
        assert_eq!(recovered.durable.log.last_index(), 10);
        assert_eq!(
            recovered.durable.snapshot.as_ref().map(|s| s.index),
            Some(8)
        );
        assert!(
            store
                .disk_mut()
                .read_all(LOG_FILES[1])
                .expect("read")
                .is_empty(),
            "the orphan was emptied"
        );
    }

    #[test]
    fn a_damaged_snapshot_is_a_loss_naming_the_file_and_the_offset() {
        let (store, _) = compacted();
        let mut disk = store.into_disk();
        let mut bytes = disk.read_all(SNAPSHOT_FILE).expect("read");
        let last = bytes.len() - 2;
        bytes[last] ^= 0x10;
        disk.others.insert(SNAPSHOT_FILE.into(), bytes);
        let (_, recovered) = LogStore::open(disk).expect("recovers");
        let lost = recovered.lost.expect("a loss");
        assert!(
            matches!(lost, Loss::SnapshotDamaged { offset: 8, .. }),
            "{lost:?}"
        );
        let said = lost.to_string();
        assert!(
            said.contains(SNAPSHOT_FILE) && said.contains("byte 8"),
            "{said}"
        );
        let durable = recovered.durable;
        assert!(
            durable.recovering && durable.lost,
            "catches up from its peers"
        );
        assert_eq!(
            (durable.current_term, durable.log.last_index()),
            (2, 0),
            "term kept, entries dropped"
        );
        assert!(durable.snapshot.is_none());
    }

    #[test]
    fn a_missing_snapshot_under_a_compacted_log_is_a_loss() {
        let (store, _) = compacted();
        let mut disk = store.into_disk();
        disk.others.remove(SNAPSHOT_FILE);
        let (_, recovered) = LogStore::open(disk).expect("recovers");
        assert!(matches!(
            recovered.lost,
            Some(Loss::SnapshotMissing {
                log_base: 6,
                snapshot: 0
            })
        ));
        assert_eq!(recovered.durable.log.last_index(), 0);
    }

    /// Recovers from `disk` with its snapshot file replaced by `bytes`,
    /// and returns the loss it reports.
    fn loss_with_snapshot_file(bytes: Vec<u8>) -> Loss {
        let (store, _) = compacted();
        let mut disk = store.into_disk();
        disk.others.insert(SNAPSHOT_FILE.into(), bytes);
        let (_, recovered) = LogStore::open(disk).expect("recovers");
        recovered.lost.expect("a loss")
    }

    #[test]
    fn a_snapshot_file_with_another_header_or_trailing_bytes_is_a_loss() {
        let (store, _) = compacted();
        let mut disk = store.into_disk();
        let good = disk.read_all(SNAPSHOT_FILE).expect("read");
        let mut other = good.clone();
        other[..8].copy_from_slice(b"NOTSNAP!");
        let lost = loss_with_snapshot_file(other);
        assert!(
            matches!(&lost, Loss::SnapshotDamaged { offset: 0, why } if why.contains("header")),
            "{lost:?}"
        );
        let lost = loss_with_snapshot_file(b"RYW".to_vec());
        assert!(
            matches!(&lost, Loss::SnapshotDamaged { offset: 0, .. }),
            "{lost:?}"
        );
        let lost = loss_with_snapshot_file(crate::SNAPSHOT_HEADER.to_vec());
        assert!(
            matches!(&lost, Loss::SnapshotDamaged { offset: 8, why } if why.contains("no snapshot after")),
            "a header alone: {lost:?}"
        );
        let mut longer = good;
        longer.extend_from_slice(b"junk");
        let lost = loss_with_snapshot_file(longer);
        assert!(
            matches!(&lost, Loss::SnapshotDamaged { why, .. } if why.contains("after the snapshot")),
            "{lost:?}"
        );
    }

    #[test]
    fn a_compaction_counts_its_work_and_moves_the_superblock_on_by_one() {
        let (mut store, _) = LogStore::open(MemDisk::default()).expect("empty disk");
        let mut durable = Durable::default();
        for index in 1..=4 {
            durable.log.append(entry(1, index));
        }
        write_whole(&mut store, &durable);
        let before = store.stats;
        let sequence = meta::read(store.disk_mut())
            .expect("read")
            .expect("a copy")
            .sequence;
        durable.snapshot = Some(snapshot_of(&durable.log, 3, 1, vec![Id::Node(1)]));
        durable.log.compact_to(2);
        let batch = PersistBatch {
            number: 2,
            hard_state: None,
            entries_from: None,
            snapshot: true,
            compact_to: None,
        };
        store.write(&batch, &durable).expect("writes");
        let after = store.stats;
        let snapshot_bytes = store
            .disk_mut()
            .read_all(SNAPSHOT_FILE)
            .expect("read")
            .len() as u64;
        let log_bytes = store.disk_mut().read_all(LOG_FILES[1]).expect("read").len() as u64;
        assert_eq!(after.snapshots, before.snapshots + 1);
        assert_eq!(after.syncs, before.syncs + 1, "the new log's fsync");
        assert_eq!(
            after.entries,
            before.entries + 2,
            "entries 3 and 4 written again"
        );
        assert_eq!(after.bytes, before.bytes + snapshot_bytes + log_bytes);
        assert_eq!(store.length(), log_bytes);
        let meta = meta::read(store.disk_mut()).expect("read").expect("a copy");
        assert_eq!((meta.sequence, meta.generation), (sequence + 1, 1));
        assert_eq!(meta.log_synced_bytes, log_bytes);
    }
}
