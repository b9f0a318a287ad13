//! The real file system under the log store.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::Disk;

/// Files in one directory. Keeps each file open for appending; syncs with
/// `fdatasync` and, when it created a file, the directory too (so the new
/// name survives a crash).
pub struct FsDisk {
    dir: PathBuf,
    open: BTreeMap<String, File>,
    /// Files created since the directory was last synced.
    dir_dirty: bool,
}

impl FsDisk {
    /// The disk in `dir`, created if missing.
    pub fn open(dir: &Path) -> io::Result<FsDisk> {
        fs::create_dir_all(dir)?;
        Ok(FsDisk {
            dir: dir.to_path_buf(),
            open: BTreeMap::new(),
            dir_dirty: false,
        })
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
        self.file(file)?.sync_data()?;
        if std::mem::take(&mut self.dir_dirty) {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }
}
