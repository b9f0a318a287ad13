//! The real file system under the log store.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Disk;

/// Files in one directory. Keeps each file open for appending; syncs with
/// `fdatasync` and, when it created a file, the directory too (so the new
/// name survives a crash).
pub struct FsDisk {
    dir: PathBuf,
    open: BTreeMap<String, File>,
    /// Files created since the directory was last synced.
    dir_dirty: bool,
    /// fsyncs left before every one fails (tests only).
    syncs_before_failure: Option<u64>,
    /// How long each fsync of a log or snapshot file takes at least (tests only).
    sync_delay: Option<Duration>,
}

impl FsDisk {
    /// The disk in `dir`, created if missing. Fails, saying why, unless
    /// `dir` is a directory this process can create, write and fsync files
    /// in: better at the start than at the first write.
    pub fn open(dir: &Path) -> io::Result<FsDisk> {
        if dir.exists() && !dir.is_dir() {
            return Err(io::Error::other("it exists and is not a directory"));
        }
        fs::create_dir_all(dir)?;
        let probe = dir.join(".ryw-write-test");
        let tried = File::create(&probe)
            .and_then(|mut f| f.write_all(b"ryw").and_then(|()| f.sync_all()))
            .and_then(|()| fs::remove_file(&probe));
        if let Err(e) = tried {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot create, write and fsync a file in it: {e}"),
            ));
        }
        Ok(FsDisk {
            dir: dir.to_path_buf(),
            open: BTreeMap::new(),
            dir_dirty: false,
            syncs_before_failure: None,
            sync_delay: None,
        })
    }

    /// Makes every fsync after the next `count` fail with an I/O error: a
    /// fault-injection point for tests of what a node does when its disk
    /// fails (`ryw-node` reads `RYW_TEST_FSYNC_FAIL_AFTER`).
    pub fn fail_syncs_after(&mut self, count: u64) {
        self.syncs_before_failure = Some(count);
    }

    /// Makes every fsync of a log or snapshot file take at least `delay`: a
    /// slow disk, for tests of what a node does while an fsync is in
    /// flight (`ryw-node` reads `RYW_TEST_FSYNC_DELAY_MS`).
    pub fn slow_syncs(&mut self, delay: Duration) {
        self.sync_delay = Some(delay);
    }

    /// Counts an fsync against the injected failure, if one is set.
    fn injected_failure(&mut self) -> io::Result<()> {
        match &mut self.syncs_before_failure {
            Some(0) => Err(io::Error::other(
                "injected fsync failure (RYW_TEST_FSYNC_FAIL_AFTER)",
            )),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn file(&mut self, file: &str) -> io::Result<&mut File> {
        if !self.open.contains_key(file) {
            let path = self.path(file);
            let existed = path.exists();
            let handle = OpenOptions::new().create(true).append(true).open(&path)?;
            self.dir_dirty |= !existed;
            self.open.insert(file.to_owned(), handle);
        }
        Ok(self.open.get_mut(file).expect("just opened"))
    }
}

impl FsDisk {
    /// fsyncs the directory once files were created in it, so that their
    /// names survive a crash.
    fn sync_dir_if_dirty(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.dir_dirty) {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// What an fsync of `file` started now needs, to run on another
    /// thread: a handle on the file, and the directory if files were
    /// created in it since it was last synced. An injected failure due now
    /// is taken here and carried along.
    pub(crate) fn sync_later(&mut self, file: &str) -> io::Result<LaterSync> {
        let failure = self.injected_failure().err();
        let handle = self.file(file)?.try_clone()?;
        let dir = std::mem::take(&mut self.dir_dirty).then(|| self.dir.clone());
        Ok(LaterSync {
            handle,
            dir,
            failure,
            delay: self.sync_delay,
        })
    }
}

/// An fsync of one file (and its directory, if named) prepared by
/// [`FsDisk::sync_later`], run by [`LaterSync::run`] on any thread.
#[derive(Debug)]
pub(crate) struct LaterSync {
    handle: File,
    dir: Option<PathBuf>,
    failure: Option<io::Error>,
    delay: Option<Duration>,
}

impl LaterSync {
    pub(crate) fn run(self) -> io::Result<()> {
        if let Some(e) = self.failure {
            return Err(e);
        }
        if let Some(delay) = self.delay {
            std::thread::sleep(delay);
        }
        self.handle.sync_data()?;
        match &self.dir {
            Some(dir) => sync_dir(dir),
            None => Ok(()),
        }
    }
}

/// Replaces all of the file at `path` with `bytes` and fsyncs it; whether
/// it created the file (its directory then needs an fsync too).
pub(crate) fn overwrite(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let created = !path.exists();
    let mut handle = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)?;
    handle.write_all(bytes)?;
    handle.sync_data()?;
    Ok(created)
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Disk for FsDisk {
    fn read_all(&mut self, file: &str) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        match File::open(self.path(file)) {
            Ok(mut handle) => {
                handle.read_to_end(&mut bytes)?;
                Ok(bytes)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(bytes),
            Err(e) => Err(e),
        }
    }

    fn append(&mut self, file: &str, bytes: &[u8]) -> io::Result<()> {
        self.file(file)?.write_all(bytes)
    }

    fn truncate(&mut self, file: &str, length: u64) -> io::Result<()> {
        let handle = self.file(file)?;
        handle.set_len(length)?;
        handle.sync_all()
    }

    fn sync(&mut self, file: &str) -> io::Result<()> {
        self.injected_failure()?;
        if let Some(delay) = self.sync_delay {
            std::thread::sleep(delay);
        }
        self.file(file)?.sync_data()?;
        self.sync_dir_if_dirty()
    }

    fn overwrite(&mut self, file: &str, bytes: &[u8]) -> io::Result<()> {
        self.dir_dirty |= overwrite(&self.path(file), bytes)?;
        self.sync_dir_if_dirty()
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.open.remove(from);
        self.open.remove(to);
        fs::rename(self.path(from), self.path(to))?;
        self.dir_dirty = false;
        sync_dir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ryw-fs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_directory_is_created_and_a_file_in_its_place_is_refused() {
        let dir = temp_dir("open");
        FsDisk::open(&dir).expect("created");
        FsDisk::open(&dir).expect("opened again");
        let file = dir.join("plain");
        fs::write(&file, b"x").expect("a file");
        let error = FsDisk::open(&file).err().expect("refused");
        assert!(error.to_string().contains("not a directory"), "{error}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_overwrite_replaces_the_whole_file() {
        let dir = temp_dir("overwrite");
        let mut disk = FsDisk::open(&dir).expect("created");
        disk.overwrite("meta", b"first, longer").expect("written");
        disk.overwrite("meta", b"second").expect("written");
        assert_eq!(disk.read_all("meta").expect("read"), b"second");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_rename_replaces_the_target_and_leaves_no_source() {
        let dir = temp_dir("rename");
        let mut disk = FsDisk::open(&dir).expect("created");
        disk.append("snap", b"old").expect("written");
        disk.sync("snap").expect("synced");
        disk.append("snap.tmp", b"new").expect("written");
        disk.sync("snap.tmp").expect("synced");
        disk.rename("snap.tmp", "snap").expect("renamed");
        assert_eq!(disk.read_all("snap").expect("read"), b"new");
        assert!(disk.read_all("snap.tmp").expect("read").is_empty());
        // Appending after a rename reaches the renamed file, not a stale handle.
        disk.truncate("snap.tmp", 0).expect("recreated");
        disk.append("snap.tmp", b"again").expect("written");
        assert_eq!(disk.read_all("snap.tmp").expect("read"), b"again");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_injected_failure_fails_every_fsync_after_the_count() {
        let dir = temp_dir("fail");
        let mut disk = FsDisk::open(&dir).expect("created");
        disk.append("log", b"abc").expect("appended");
        disk.fail_syncs_after(2);
        disk.sync("log").expect("first");
        disk.sync("log").expect("second");
        for _ in 0..3 {
            let error = disk.sync("log").expect_err("failed");
            assert!(error.to_string().contains("injected"), "{error}");
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
