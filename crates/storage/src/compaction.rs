//! Snapshots on disk and the log written anew under them (see the crate
//! doc, "Snapshots and compaction"): writing a snapshot atomically,
//! switching to a compacted log through the superblock, and reading both
//! back at recovery.

use std::io;

use ryw_core::durable::Record;
use ryw_core::{Durable, Snapshot};

use crate::frame;
use crate::meta::{self, Meta};
use crate::record::{LogFormat, HEADER};
use crate::snapshot_file::{self, SNAPSHOT_FILE, SNAPSHOT_TMP_FILE};
use crate::store::{log_file, LogStore};
use crate::Disk;

impl<D: Disk> LogStore<D> {
    /// Writes `snapshot` durably and atomically: to a temporary file,
    /// synced, then renamed over [`SNAPSHOT_FILE`] (the rename syncs the
    /// directory). A crash leaves the old snapshot or the new one.
    pub fn write_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        self.buffer.clear();
        snapshot_file::encode(snapshot, &mut self.buffer);
        self.disk.truncate(SNAPSHOT_TMP_FILE, 0)?;
        self.disk.append(SNAPSHOT_TMP_FILE, &self.buffer)?;
        self.disk.sync(SNAPSHOT_TMP_FILE)?;
        self.disk.rename(SNAPSHOT_TMP_FILE, SNAPSHOT_FILE)?;
        self.stats.bytes += self.buffer.len() as u64;
        self.stats.snapshots += 1;
        Ok(())
    }

    /// Writes the log anew, from its base: the base, the hard state and
    /// every entry after the base, into the other log file, synced whole;
    /// then the superblock names that file's generation, which makes it
    /// current, and the old file is emptied. A crash before the superblock
    /// is written leaves the old log current (the new file is an orphan
    /// recovery empties); after it, the new one.
    ///
    /// `compact_to`: where the node will compact its log under the
    /// snapshot, if it has not yet
    /// ([`ryw_core::durable::PersistBatch::compact_to`]); the log
    /// written starts there.
    pub fn compact(&mut self, durable: &Durable, compact_to: Option<u64>) -> io::Result<()> {
        let next = self.generation + 1;
        let file = log_file(next);
        self.buffer.clear();
        self.buffer.extend_from_slice(HEADER);
        let (mut index, mut term) = durable.log.base();
        if let Some(to) = compact_to.map(|to| to.min(durable.log.last_index())) {
            if to > index {
                index = to;
                term = durable.log.term_at(to).expect("within the log");
            }
        }
        let records = [
            Record::Base { index, term },
            Record::HardState(durable.hard_state()),
        ];
        let entries = (index + 1..=durable.log.last_index()).map(|index| Record::Entry {
            index,
            entry: durable.log.get(index).expect("within the log").clone(),
        });
        let mut written = 0;
        for record in records.into_iter().chain(entries) {
            written += u64::from(matches!(record, Record::Entry { .. }));
            frame::encode_with(&mut self.buffer, |payload| {
                LogFormat::Binary.encode(&record, payload)
            });
        }
        self.disk.truncate(file, 0)?;
        self.disk.append(file, &self.buffer)?;
        self.disk.sync(file)?;
        self.stats.syncs += 1;
        let length = self.buffer.len() as u64;
        let meta = Meta {
            sequence: self.superblock.map_or(0, |m| m.sequence + 1),
            log_synced_bytes: length,
            generation: next,
        };
        meta::write(&mut self.disk, meta)?;
        self.superblock = Some(meta);
        let old = self.log_file();
        self.generation = next;
        self.format = LogFormat::Binary;
        self.length = length;
        self.stats.entries += written;
        self.stats.bytes += length;
        self.disk.truncate(old, 0)
    }
}
