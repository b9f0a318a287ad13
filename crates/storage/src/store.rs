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
    /// A damaged record with intact records after it.
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
                "{file} is damaged at byte {offset} ({why}) and intact records follow, so data \
                 that was durable is lost; refusing to start rather than forget a vote or an \
                 acknowledged write (move the file away to rejoin empty)"
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
        let header_whole = bytes.len() >= HEADER.len();
        if !bytes.starts_with(&HEADER[..HEADER.len().min(bytes.len())]) {
            return Err(RecoveryError::NotALog { file: file() });
        }
        if !header_whole {
            // A first write torn inside the header.
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
                Frame::Damaged(why) => {
                    if frame::intact_after(&bytes, at).is_some() {
                        return Err(RecoveryError::Damaged {
                            file: file(),
                            offset: at as u64,
                            why,
                        });
                    }
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

    fn on(disk: D, length: u64) -> LogStore<D> {
        LogStore {
            disk,
            length,
            buffer: Vec::new(),
            text: String::new(),
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
        for record in batch.records(log) {
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
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.disk.sync(LOG_FILE)
    }

    /// Bytes written to the file so far.
    pub fn length(&self) -> u64 {
        self.length
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
                full: false,
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
    fn damage_in_the_last_record_reads_as_a_torn_tail() {
        let (disk, durable) = written();
        let mut bad = disk.clone();
        let last = bad.bytes.len() - 3;
        bad.bytes[last] ^= 0x01;
        let (_, recovered) = LogStore::open(bad).expect("cut");
        assert!(recovered.cut.is_some());
        assert_eq!(
            recovered.durable.log.term_at(3),
            Some(2),
            "the replacement of entry 3 was cut, so the first batch's stands"
        );
        assert_eq!(recovered.durable.current_term, durable.current_term);
    }

    #[test]
    fn someone_elses_file_is_refused() {
        let disk = MemDisk {
            bytes: b"hello world, not a log".to_vec(),
            full: false,
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
}
