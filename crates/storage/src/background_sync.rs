//! An fsync of the log, and the superblock write that must follow it, run
//! off the node's thread, so that the node goes on reading and appending
//! while the disk works (the fsync, not the CPU, is what bounds a durable
//! node's throughput).
//!
//! [`LogStore::start_sync`] prepares a [`SyncJob`] on the node's thread;
//! any thread [`runs`](SyncJob::run) it; [`LogStore::finish_sync`] records
//! its result back on the node's thread, and only then may the node
//! acknowledge what it covered. The order on disk is the one
//! [`LogStore::sync`] keeps: the log's bytes, then the superblock saying
//! they are synced. While a job is in flight the node may append to the
//! log (the job covers only the bytes written before it started) but must
//! not write the superblock: no second job, and no snapshot batch (see
//! [`crate::Unwritten::write_some_to`]).

use std::io;
use std::path::PathBuf;

use crate::fs::{self, LaterSync};
use crate::meta::Meta;
use crate::{FsDisk, LogStore};

/// One fsync of the log and the superblock after it, ready to run.
#[derive(Debug)]
pub struct SyncJob {
    log: LaterSync,
    /// The superblock copy to write after the fsync, and its path; `None`
    /// when the superblock already says as much.
    superblock: Option<(Meta, PathBuf)>,
    /// The caller's tag for what the job covers (`ryw-node`: the newest
    /// persist batch written before it started).
    pub covers: u64,
}

/// A job that ran to the end: everything it covered is durable.
#[derive(Debug)]
pub struct SyncDone {
    superblock: Option<Meta>,
    pub covers: u64,
}

impl LogStore<FsDisk> {
    /// Prepares an fsync of every byte of the log written so far, tagged
    /// `covers`.
    pub fn start_sync(&mut self, covers: u64) -> io::Result<SyncJob> {
        let file = self.log_file();
        let log = self.disk.sync_later(file)?;
        let superblock = self
            .superblock_after_sync(self.generation, self.length)
            .map(|meta| (meta, self.disk.path(meta.file())));
        Ok(SyncJob {
            log,
            superblock,
            covers,
        })
    }

    /// Records a job that ran to the end.
    pub fn finish_sync(&mut self, done: SyncDone) {
        self.stats.syncs += 1;
        if let Some(meta) = done.superblock {
            self.superblock = Some(meta);
        }
    }
}

impl SyncJob {
    /// fsyncs the log, then writes and fsyncs the superblock copy.
    pub fn run(self) -> io::Result<SyncDone> {
        self.log.run()?;
        if let Some((meta, path)) = &self.superblock {
            let created = fs::overwrite(path, &meta.encode())?;
            if let Some(dir) = path.parent().filter(|_| created) {
                fs::sync_dir(dir)?;
            }
        }
        Ok(SyncDone {
            superblock: self.superblock.map(|(meta, _)| meta),
            covers: self.covers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Disk;
    use ryw_core::durable::PersistBatch;
    use ryw_core::{Command, Durable, Entry, Key, Value};

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ryw-bg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn batch(number: u64, from: u64) -> PersistBatch {
        PersistBatch {
            number,
            hard_state: (number == 1).then(|| Durable::default().hard_state()),
            entries_from: Some(from),
            snapshot: false,
            compact_to: None,
        }
    }

    fn append(durable: &mut Durable, value: i64) {
        durable.log.append(Entry {
            term: 1,
            command: Command::Write {
                key: Key::Int(1),
                value: Value::from(value),
            },
            request: None,
        });
    }

    #[test]
    fn a_job_covers_what_was_written_before_it_and_appends_go_on_meanwhile() {
        let dir = temp_dir("covers");
        let (mut store, _) = LogStore::open(FsDisk::open(&dir).expect("dir")).expect("opens");
        let mut durable = Durable::default();
        append(&mut durable, 1);
        store.write(&batch(1, 1), &durable).expect("writes");
        let covered = store.length();
        let job = store.start_sync(1).expect("starts");
        // Appended while the job is in flight: not covered by it.
        append(&mut durable, 2);
        store.write(&batch(2, 2), &durable).expect("writes");
        let done = std::thread::spawn(move || job.run()).join().expect("runs");
        let done = done.expect("syncs");
        assert_eq!(done.covers, 1);
        store.finish_sync(done);
        assert_eq!(store.stats.syncs, 1);
        // The superblock says what the job covered, not what came after.
        let (_, recovered) = LogStore::open(FsDisk::open(&dir).expect("dir")).expect("opens");
        assert!(recovered.lost.is_none(), "{:?}", recovered.lost);
        let superblock = crate::meta::read(&mut FsDisk::open(&dir).expect("dir")).expect("reads");
        assert_eq!(superblock.map(|m| m.log_synced_bytes), Some(covered));
        // The next job covers the rest, and says so in the other copy.
        let job = store.start_sync(2).expect("starts");
        store.finish_sync(job.run().expect("syncs"));
        let superblock = crate::meta::read(&mut FsDisk::open(&dir).expect("dir")).expect("reads");
        assert_eq!(superblock.map(|m| m.log_synced_bytes), Some(store.length()));
        assert_eq!(store.stats.syncs, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_injected_fsync_failure_fails_the_job_and_records_nothing() {
        let dir = temp_dir("fails");
        let mut disk = FsDisk::open(&dir).expect("dir");
        disk.fail_syncs_after(0);
        let (mut store, _) = LogStore::open(disk).expect("opens");
        let mut durable = Durable::default();
        append(&mut durable, 1);
        store.write(&batch(1, 1), &durable).expect("writes");
        let error = store
            .start_sync(1)
            .expect("starts")
            .run()
            .expect_err("fails");
        assert!(error.to_string().contains("injected"), "{error}");
        assert_eq!(store.stats.syncs, 0);
        assert!(store
            .disk_mut()
            .read_all(crate::META_FILES[0])
            .expect("reads")
            .is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
