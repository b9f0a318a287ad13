//! The snapshot file: its names, its format (`"RYWSNAP1"`, then one
//! framed record holding the snapshot's text), and reading it back. A leaf:
//! it knows frames and snapshots, not the store.

use std::io;

use ryw_core::Snapshot;

use crate::frame::{self, Frame};
use crate::Disk;

/// The newest snapshot, replaced atomically: written to
/// [`SNAPSHOT_TMP_FILE`], synced, renamed over this name.
pub const SNAPSHOT_FILE: &str = "raft.snapshot";
pub const SNAPSHOT_TMP_FILE: &str = "raft.snapshot.tmp";

/// The snapshot file's first bytes: magic and version.
pub const SNAPSHOT_HEADER: &[u8; 8] = b"RYWSNAP1";

/// The snapshot file's bytes for `snapshot`, into `out`.
pub(crate) fn encode(snapshot: &Snapshot, out: &mut Vec<u8>) {
    out.extend_from_slice(SNAPSHOT_HEADER);
    frame::encode(snapshot.encode().as_bytes(), out);
}

/// The snapshot file's snapshot: none if there is no file; the offset and
/// reason if it fails its check or cannot be read.
pub(crate) fn read<D: Disk>(disk: &mut D) -> io::Result<Result<Option<Snapshot>, (u64, String)>> {
    let bytes = disk.read_all(SNAPSHOT_FILE)?;
    if bytes.is_empty() {
        return Ok(Ok(None));
    }
    if bytes.len() < SNAPSHOT_HEADER.len() || &bytes[..SNAPSHOT_HEADER.len()] != SNAPSHOT_HEADER {
        return Ok(Err((0, "not a snapshot header".into())));
    }
    let at = SNAPSHOT_HEADER.len();
    let why = match frame::read(&bytes, at) {
        Frame::Intact { payload, next } if next == bytes.len() => {
            let decoded = std::str::from_utf8(payload)
                .map_err(|e| e.to_string())
                .and_then(Snapshot::decode);
            match decoded {
                Ok(snapshot) => return Ok(Ok(Some(snapshot))),
                Err(why) => why,
            }
        }
        Frame::Intact { next, .. } => format!("{} bytes after the snapshot", bytes.len() - next),
        Frame::End => "no snapshot after the header".into(),
        Frame::Corrupt(why) | Frame::Torn(why) => why,
    };
    Ok(Err((at as u64, why)))
}
