//! The few file operations the log store needs, so a real file system and
//! a simulated disk can both sit under it.

use std::io;

pub trait Disk {
    /// Everything in `file`; empty if it does not exist.
    fn read_all(&mut self, file: &str) -> io::Result<Vec<u8>>;
    /// Appends to `file`, creating it (durably, directory entry included,
    /// once synced) if needed. Not durable until `sync`.
    fn append(&mut self, file: &str, bytes: &[u8]) -> io::Result<()>;
    /// Cuts `file` to `length` bytes, durably.
    fn truncate(&mut self, file: &str, length: u64) -> io::Result<()>;
    /// Makes everything appended to `file` so far durable (fdatasync).
    fn sync(&mut self, file: &str) -> io::Result<()>;
    /// Replaces all of `file` with `bytes`, durably before it returns. A
    /// crash during it may leave the file torn: callers keep two copies.
    fn overwrite(&mut self, file: &str, bytes: &[u8]) -> io::Result<()>;
    /// Renames `from` over `to`, atomically and durably (the directory is
    /// synced before it returns): after a crash `to` is what it was, or
    /// what `from` was, never a mix; `from` is gone.
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()>;
}
