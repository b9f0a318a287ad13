//! The snapshot file: its names, its format (`"RYWSNAP2"`, then one
//! framed record holding the snapshot in binary; `"RYWSNAP1"` and the
//! snapshot's text, from older versions, is still read), and reading it
//! back. It knows frames, records and snapshots, not the store.

use std::io;

use ryw_core::kv::{RememberedLife, Versioned};
use ryw_core::snapshot::{first_applied, outcome_code};
use ryw_core::Snapshot;

use crate::frame::{self, Frame};
use crate::record::{self, Reader};
use crate::Disk;

/// The newest snapshot, replaced atomically: written to
/// [`SNAPSHOT_TMP_FILE`], synced, renamed over this name.
pub const SNAPSHOT_FILE: &str = "raft.snapshot";
pub const SNAPSHOT_TMP_FILE: &str = "raft.snapshot.tmp";

/// The snapshot file's first bytes: magic and format 2 (binary).
pub const SNAPSHOT_HEADER: &[u8; 8] = b"RYWSNAP2";

/// The header of format 1, the snapshot's text (`ryw_core::Snapshot::encode`),
/// which older versions wrote; still read.
pub const SNAPSHOT_HEADER_TEXT: &[u8; 8] = b"RYWSNAP1";

/// The snapshot file's bytes for `snapshot`, into `out`.
pub(crate) fn encode(snapshot: &Snapshot, out: &mut Vec<u8>) {
    out.extend_from_slice(SNAPSHOT_HEADER);
    frame::encode_with(out, |out| encode_binary(snapshot, out));
}

/// A snapshot in format 2, with the primitives of a log record (see
/// `record.rs`):
///
/// ```text
/// index  term  count [member id]
/// count [key  value  index]                                      the state machine
/// count [origin id  count [incarnation  last_applied
///                          count [request_id  index  outcome]]]  the duplicate filter
/// newline
/// ```
///
/// `outcome` as in the text form: 0 written, 1 a cas refused on a missing
/// key, 2 a cas refused on another value.
fn encode_binary(snapshot: &Snapshot, out: &mut Vec<u8>) {
    record::varint(out, snapshot.index);
    record::varint(out, snapshot.term);
    record::varint(out, snapshot.members.len() as u64);
    for member in &snapshot.members {
        record::id(out, member);
    }
    record::varint(out, snapshot.kv.entries().len() as u64);
    for (key, stored) in snapshot.kv.entries() {
        record::key(out, key);
        record::value(out, &stored.value);
        record::varint(out, stored.index);
    }
    let origins: Vec<_> = snapshot.kv.remembered_requests().collect();
    record::varint(out, origins.len() as u64);
    for (origin, lives) in origins {
        record::id(out, origin);
        record::varint(out, lives.len() as u64);
        for life in lives {
            record::varint(out, u64::from(life.incarnation));
            record::varint(out, life.last_applied);
            record::varint(out, life.requests.len() as u64);
            for (id, index, first) in life.requests {
                record::varint(out, id);
                record::varint(out, index);
                out.push(outcome_code(first));
            }
        }
    }
    out.push(record::END);
}

/// Reads [`encode_binary`]'s bytes back; an error names the field.
fn decode_binary(payload: &[u8]) -> Result<Snapshot, String> {
    let mut r = Reader::new(payload);
    let index = r.varint("index")?;
    let term = r.varint("term")?;
    let members = (0..r.count("members")?)
        .map(|_| r.id("member"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut data = Vec::new();
    for _ in 0..r.count("data")? {
        let key = r.key("data.key")?;
        let value = r.value("data.value")?;
        let index = r.varint("data.index")?;
        data.push((key, Versioned { value, index }));
    }
    let mut requests = Vec::new();
    for _ in 0..r.count("requests")? {
        let origin = r.id("requests.origin")?;
        let mut lives = Vec::new();
        for _ in 0..r.count("requests.lives")? {
            let incarnation = r.u32("requests.incarnation")?;
            let last_applied = r.varint("requests.last_applied")?;
            let mut applied = Vec::new();
            for _ in 0..r.count("requests.ids")? {
                let id = r.varint("requests.id")?;
                let index = r.varint("requests.index")?;
                let outcome = first_applied(r.byte("requests.outcome")?)?;
                applied.push((id, index, outcome));
            }
            lives.push(RememberedLife {
                incarnation,
                last_applied,
                requests: applied,
            });
        }
        requests.push((origin, lives));
    }
    r.end()?;
    Snapshot::from_parts(index, term, members, data, requests)
}

/// The snapshot file's snapshot: none if there is no file; the offset and
/// reason if it fails its check or cannot be read.
pub(crate) fn read<D: Disk>(disk: &mut D) -> io::Result<Result<Option<Snapshot>, (u64, String)>> {
    let bytes = disk.read_all(SNAPSHOT_FILE)?;
    if bytes.is_empty() {
        return Ok(Ok(None));
    }
    let header = bytes.get(..SNAPSHOT_HEADER.len());
    let binary = match header {
        Some(h) if h == SNAPSHOT_HEADER => true,
        Some(h) if h == SNAPSHOT_HEADER_TEXT => false,
        _ => return Ok(Err((0, "not a snapshot header".into()))),
    };
    let at = SNAPSHOT_HEADER.len();
    let why = match frame::read(&bytes, at) {
        Frame::Intact { payload, next } if next == bytes.len() => {
            let decoded = if binary {
                decode_binary(payload)
            } else {
                std::str::from_utf8(payload)
                    .map_err(|e| e.to_string())
                    .and_then(Snapshot::decode)
            };
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

#[cfg(test)]
mod tests {
    use super::*;
    use ryw_core::{Command, Entry, Id, Key, Kv, RequestId, Value};

    fn snapshot() -> Snapshot {
        let mut kv = Kv::default();
        let values = [
            "123456789012345678901234567890",
            "\"text\"",
            "-7",
            "[1,2.50]",
        ];
        for (k, value) in values.iter().enumerate() {
            let entry = Entry {
                term: 2,
                command: Command::Write {
                    key: if k % 2 == 0 {
                        Key::Int(k as i64 - 1)
                    } else {
                        Key::Str(format!("key {k}"))
                    },
                    value: Value::parse(value).expect("JSON"),
                },
                request: Some(RequestId {
                    origin: Id::Node(k as u32 % 2 + 1),
                    id: (7 << 32) + k as u64,
                }),
            };
            kv.apply(k as u64 + 1, &entry);
        }
        let cas = Entry {
            term: 3,
            command: Command::Cas {
                key: Key::Int(99),
                from: Value::from(1),
                to: Value::from(2),
                create_if_not_exists: false,
            },
            request: Some(RequestId {
                origin: Id::parse("proxy"),
                id: 1,
            }),
        };
        kv.apply(5, &cas);
        Snapshot {
            index: 5,
            term: 3,
            members: vec![Id::Node(1), Id::Node(2), Id::parse("proxy")],
            kv,
        }
    }

    #[test]
    fn a_snapshot_reads_back_as_it_was_in_format_2_and_in_format_1() {
        let snapshot = snapshot();
        let mut binary = Vec::new();
        encode_binary(&snapshot, &mut binary);
        assert_eq!(decode_binary(&binary), Ok(snapshot.clone()));
        assert!(
            binary.len() * 2 < snapshot.encode().len(),
            "{} bytes against {} of text",
            binary.len(),
            snapshot.encode().len()
        );
        // A file an older version wrote: its header and the text.
        let mut old = SNAPSHOT_HEADER_TEXT.to_vec();
        frame::encode(snapshot.encode().as_bytes(), &mut old);
        let mut disk = OneFile(old);
        assert_eq!(read(&mut disk).expect("reads"), Ok(Some(snapshot.clone())));
        let mut new = Vec::new();
        encode(&snapshot, &mut new);
        assert!(new.starts_with(SNAPSHOT_HEADER));
        let mut disk = OneFile(new);
        assert_eq!(read(&mut disk).expect("reads"), Ok(Some(snapshot)));
    }

    #[test]
    fn a_damaged_binary_snapshot_is_an_error_naming_the_field_never_a_panic() {
        let mut bytes = Vec::new();
        encode_binary(&snapshot(), &mut bytes);
        for cut in 0..bytes.len() {
            assert!(decode_binary(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            for b in [0, 0x7f, 0x80, 0xff] {
                let mut changed = bytes.clone();
                changed[at] = b;
                let _ = decode_binary(&changed);
            }
        }
        // A key written after the snapshot's index: index 5 read as 2.
        let mut later = bytes.clone();
        later[0] = 2;
        let why = decode_binary(&later).expect_err("refused");
        assert!(why.contains("after the snapshot's 2"), "{why}");
        let why = decode_binary(&[1, 1, 100]).expect_err("refused");
        assert_eq!(why, "members: 100 items in 0 bytes (byte 3 of the record)");
    }

    /// A disk holding only the snapshot file.
    struct OneFile(Vec<u8>);

    impl Disk for OneFile {
        fn read_all(&mut self, _file: &str) -> io::Result<Vec<u8>> {
            Ok(self.0.clone())
        }
        fn append(&mut self, _: &str, _: &[u8]) -> io::Result<()> {
            unreachable!("read only")
        }
        fn truncate(&mut self, _: &str, _: u64) -> io::Result<()> {
            unreachable!("read only")
        }
        fn sync(&mut self, _: &str) -> io::Result<()> {
            unreachable!("read only")
        }
        fn overwrite(&mut self, _: &str, _: &[u8]) -> io::Result<()> {
            unreachable!("read only")
        }
        fn rename(&mut self, _: &str, _: &str) -> io::Result<()> {
            unreachable!("read only")
        }
    }
}
