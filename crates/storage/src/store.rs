//! The log store: writes the core's persist batches as framed records, and
//! rebuilds the durable state from them after a crash.

use std::fmt;
use std::io;

use ryw_core::codec::{decode_record, encode_record};
use ryw_core::durable::{replay, PersistBatch};
use ryw_core::{log::Log, Durable};

use crate::frame::{self, Frame, HEADER};
use crate::Disk;

/// The one file the store keeps: term, vote and log.
pub const LOG_FILE: &str = "raft.log";

pub struct LogStore<D: Disk> {
    disk: D,
    /// Bytes of the file known to be written whole.
    length: u64,
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
    /// A torn tail cut off: (offset, bytes cut, what was wrong there).
    pub cut: Option<(u64, u64, String)>,
}

/// Why a node cannot start from its data file.
#[derive(Debug)]
pub enum RecoveryError {
    Io(io::Error),
    /// The file does not start with our header.
    NotALog {
        file: String,
    },
    /// A record that fails a check in a way no crash leaves behind:
    /// corruption.
    Damaged {
        file: String,
        offset: u64,
        why: String,
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
            RecoveryError::NotALog { file } => {
                write!(f, "{file} is not a ryw-node log (wrong header); refusing to start")
            }
            RecoveryError::Damaged { file, offset, why } => write!(
                f,
                "{file} is damaged at byte {offset} ({why}): bytes that were written whole are \
                 corrupt, and they may have held a vote or an acknowledged write; refusing to \
                 start rather than forget them (repair from peers is not built; move the file \
                 away only if this node's vote and log may be forgotten safely)"
            ),
            RecoveryError::Unreadable { file, offset, why } => write!(
                f,
                "{file}: the record at byte {offset} is intact but unreadable ({why}); refusing to start"
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
    /// Opens the store on `disk` and rebuilds the durable state from it,
    /// cutting a torn tail (see the crate docs for what is refused).
    pub fn open(mut disk: D) -> Result<(LogStore<D>, Recovered), RecoveryError> {
        let bytes = disk.read_all(LOG_FILE)?;
        let file = || LOG_FILE.to_owned();
        let mut recovered = Recovered {
            durable: Durable::default(),
            records: 0,
            cut: None,
        };
        // A first write torn inside the header: cut short, or zeroed from
        // within it to the end of the file.
        let zeros = frame::zeros_from(&bytes);
        let header_torn =
            bytes.len() < HEADER.len() || (zeros < HEADER.len() && zeros < bytes.len());
        let checked = if header_torn { zeros } else { HEADER.len() };
        if bytes[..checked] != HEADER[..checked] {
            return Err(RecoveryError::NotALog { file: file() });
        }
        if header_torn {
            if !bytes.is_empty() {
                disk.truncate(LOG_FILE, 0)?;
                recovered.cut = Some((0, bytes.len() as u64, "a torn header".into()));
            }
            return Ok((LogStore::on(disk, 0), recovered));
        }
        let mut records = Vec::new();
        let mut at = HEADER.len();
        loop {
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
                Frame::Corrupt(why) => {
                    return Err(RecoveryError::Damaged {
                        file: file(),
                        offset: at as u64,
                        why,
                    });
                }
                Frame::Torn(why) => {
                    disk.truncate(LOG_FILE, at as u64)?;
                    recovered.cut = Some((at as u64, (bytes.len() - at) as u64, why));
                    break;
                }
            }
        }
        recovered.records = records.len();
        recovered.durable = replay(records).map_err(|why| RecoveryError::Unreadable {
            file: file(),
            offset: HEADER.len() as u64,
            why,
        })?;
        Ok((LogStore::on(disk, at as u64), recovered))
    }

    /// A store on a file some other reader has already read: appends go
    /// after its first `length` bytes, which must be whole records (the
    /// header included) or nothing. The simulator's planted bug
    /// `trust-torn-record` reads files its own way and then writes on.
    pub fn resume(disk: D, length: u64) -> LogStore<D> {
        LogStore::on(disk, length)
    }

    fn on(disk: D, length: u64) -> LogStore<D> {
        LogStore {
            disk,
            length,
            buffer: Vec::new(),
            text: String::new(),
            stats: WriteStats::default(),
        }
    }

    /// Appends one batch (not yet durable: see [`LogStore::sync`]). A
    /// failed write (a full disk) is cut back off, so the file stays whole;
    /// the batch may be written again later.
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
            // Best effort: a partial record at the end would read as a torn
            // tail anyway, but a later record after it would read as damage.
            let _ = self.disk.truncate(LOG_FILE, self.length);
            return Err(e);
        }
        self.length += self.buffer.len() as u64;
        self.stats.entries += entries;
        self.stats.bytes += self.buffer.len() as u64;
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.disk.sync(LOG_FILE)?;
        self.stats.syncs += 1;
        Ok(())
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

/// Persist batches handed out by the node and not yet written: a write
/// that failed (a full disk) leaves its batch here for the next try, so the
/// node's votes and acknowledgements wait instead of being lost.
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

    /// A disk in memory; `full` makes appends fail.
    #[derive(Default, Clone)]
    struct MemDisk {
        bytes: Vec<u8>,
        full: bool,
        /// Bytes made durable by the last sync.
        synced: usize,
    }

    impl Disk for MemDisk {
        fn read_all(&mut self, _: &str) -> io::Result<Vec<u8>> {
            Ok(self.bytes.clone())
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

    /// Writes two batches (a vote and entries; a new term and a truncation)
    /// and returns the disk and the durable state they describe.
    fn written() -> (MemDisk, Durable) {
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
            }),
            entries_from: Some(3),
        };
        store.write(&second, &durable.log).expect("writes");
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
    fn a_tail_torn_at_any_byte_is_cut_and_the_rest_kept() {
        let (disk, durable) = written();
        let whole = disk.bytes.len();
        let mut kept_entries = Vec::new();
        for length in 0..whole {
            let torn = MemDisk {
                bytes: disk.bytes[..length].to_vec(),
                ..MemDisk::default()
            };
            let (store, recovered) = LogStore::open(torn).expect("a torn tail is no error");
            assert!(recovered.durable.log.last_index() <= 3);
            assert!(recovered.durable.current_term <= durable.current_term);
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
    fn damage_followed_by_intact_records_is_refused_with_the_offset() {
        let (disk, _) = written();
        let mut bad = disk.clone();
        let offset = HEADER.len() + 12; // inside the first record's payload
        bad.bytes[offset] ^= 0x10;
        let error = LogStore::open(bad).err().expect("refused");
        let text = error.to_string();
        assert!(
            matches!(error, RecoveryError::Damaged { offset: 8, .. }),
            "{text}"
        );
        assert!(
            text.contains("raft.log") && text.contains("byte 8"),
            "{text}"
        );
    }

    #[test]
    fn a_flipped_bit_anywhere_even_in_the_last_record_is_refused() {
        let (disk, _) = written();
        for bit in HEADER.len() * 8..disk.bytes.len() * 8 {
            let mut bad = disk.clone();
            bad.bytes[bit / 8] ^= 1 << (bit % 8);
            let error = LogStore::open(bad)
                .err()
                .unwrap_or_else(|| panic!("bit {bit} flipped was not refused"));
            assert!(
                matches!(error, RecoveryError::Damaged { .. }),
                "bit {bit}: {error}"
            );
        }
    }

    #[test]
    fn a_torn_write_zeroed_from_any_byte_is_cut_and_the_rest_kept() {
        let (disk, durable) = written();
        for from in 0..disk.bytes.len() {
            let mut torn = disk.clone();
            torn.bytes[from..].fill(0);
            let (store, recovered) =
                LogStore::open(torn).unwrap_or_else(|e| panic!("zeroed from byte {from}: {e}"));
            assert!(recovered.cut.is_some() || from == disk.bytes.len());
            assert!(recovered.durable.log.last_index() <= durable.log.last_index());
            let (_, again) = LogStore::open(store.into_disk()).expect("recovers again");
            assert!(again.cut.is_none(), "cut once, clean after");
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
