//! Snapshots (Raft §7, thesis chapter 5): the state machine as of an
//! applied index, with everything that must survive with it: the duplicate
//! filter (so that a request re-sent after the snapshot still applies
//! once), the applied index and its term, and the members.
//!
//! A snapshot travels as text in `install_snapshot` chunks (on disk it is
//! binary, see `ryw_storage`'s `snapshot_file.rs`; older versions wrote
//! this text there too): one JSON object,
//!
//! ```text
//! {"index":I,"term":T,"members":["n1",..],
//!  "data":[[key,value,index],..],
//!  "requests":[[origin,[[incarnation,last_applied,[[id,index,outcome],..]],..]],..]}
//! ```
//!
//! with `outcome` 0 for written, 1 for a `cas` refused on a missing key, 2
//! for a `cas` refused on a different value. Values keep their exact text.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::data::{Key, Value};
use crate::decimal::write_u64;
use crate::id::Id;
use crate::kv::{FirstApplied, Kv, RememberedLife, Versioned};

#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The last index applied into it, and that entry's term.
    pub index: u64,
    pub term: u64,
    /// The cluster's members, as `init` named them.
    pub members: Vec<Id>,
    /// The state machine with its duplicate filter; its applied index is `index`.
    pub kv: Kv,
}

impl Snapshot {
    /// The snapshot as text (see the module doc).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        out.push_str("{\"index\":");
        write_u64(&mut out, self.index);
        out.push_str(",\"term\":");
        write_u64(&mut out, self.term);
        out.push_str(",\"members\":[");
        for (k, id) in self.members.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            push_string(&mut out, &id.to_string());
        }
        out.push_str("],\"data\":[");
        for (k, (key, stored)) in self.kv.entries().enumerate() {
            if k > 0 {
                out.push(',');
            }
            out.push('[');
            match key {
                Key::Int(n) => {
                    if *n < 0 {
                        out.push('-');
                    }
                    write_u64(&mut out, n.unsigned_abs());
                }
                Key::Str(s) => push_string(&mut out, s),
            }
            out.push(',');
            match &stored.value {
                // What workloads store: no serializer needed.
                value if value.as_i64().is_some() => {
                    let n = value.as_i64().expect("checked");
                    if n < 0 {
                        out.push('-');
                    }
                    write_u64(&mut out, n.unsigned_abs());
                }
                value => out.push_str(&serde_json::to_string(value).expect("values serialise")),
            }
            out.push(',');
            write_u64(&mut out, stored.index);
            out.push(']');
        }
        out.push_str("],\"requests\":[");
        for (k, (origin, lives)) in self.kv.remembered_requests().enumerate() {
            if k > 0 {
                out.push(',');
            }
            out.push('[');
            push_string(&mut out, &origin.to_string());
            out.push_str(",[");
            for (l, life) in lives.iter().enumerate() {
                if l > 0 {
                    out.push(',');
                }
                out.push('[');
                write_u64(&mut out, u64::from(life.incarnation));
                out.push(',');
                write_u64(&mut out, life.last_applied);
                out.push_str(",[");
                for (r, (id, index, first)) in life.requests.iter().enumerate() {
                    if r > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    write_u64(&mut out, *id);
                    out.push(',');
                    write_u64(&mut out, *index);
                    out.push(',');
                    write_u64(&mut out, u64::from(outcome_code(*first)));
                    out.push(']');
                }
                out.push_str("]]");
            }
            out.push_str("]]");
        }
        out.push_str("]}");
        out
    }

    /// Reads a snapshot's text back; what is wrong is named.
    pub fn decode(text: &str) -> Result<Snapshot, String> {
        let image: Image = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut data = Vec::with_capacity(image.data.len());
        for (key, raw, index) in image.data {
            let value = Value::parse(raw.get()).map_err(|e| e.to_string())?;
            let key = match key {
                KeyIn::Int(n) => Key::Int(n),
                KeyIn::Str(s) => Key::Str(s),
            };
            data.push((key, Versioned { value, index }));
        }
        let mut requests = Vec::with_capacity(image.requests.len());
        for (origin, lives) in image.requests {
            let mut remembered = Vec::with_capacity(lives.len());
            for (incarnation, last_applied, ids) in lives {
                let mut applied = Vec::with_capacity(ids.len());
                for (id, index, outcome) in ids {
                    applied.push((id, index, first_applied(outcome)?));
                }
                remembered.push(RememberedLife {
                    incarnation,
                    last_applied,
                    requests: applied,
                });
            }
            requests.push((Id::parse(&origin), remembered));
        }
        let members = image.members.iter().map(|m| Id::parse(m)).collect();
        Snapshot::from_parts(image.index, image.term, members, data, requests)
    }

    /// A snapshot from its parts, as any encoding reads them back: checked
    /// that no key was written after the snapshot's index and that each
    /// life's request ids ascend (the duplicate filter relies on it).
    pub fn from_parts(
        index: u64,
        term: u64,
        members: Vec<Id>,
        data: Vec<(Key, Versioned)>,
        requests: Vec<(Id, Vec<RememberedLife>)>,
    ) -> Result<Snapshot, String> {
        if let Some((key, stored)) = data.iter().find(|(_, stored)| stored.index > index) {
            return Err(format!(
                "key {key:?} was written at index {}, after the snapshot's {index}",
                stored.index
            ));
        }
        for (origin, lives) in &requests {
            for life in lives {
                let ids = life.requests.iter().map(|&(id, _, _)| id);
                if let Some((_, id)) = ids.clone().zip(ids.skip(1)).find(|(a, b)| a >= b) {
                    return Err(format!("request ids of {origin} are not ascending at {id}"));
                }
            }
        }
        Ok(Snapshot {
            index,
            term,
            members,
            kv: Kv::from_parts(index, data, requests),
        })
    }
}

#[derive(Deserialize)]
struct Image<'a> {
    index: u64,
    term: u64,
    members: Vec<String>,
    #[serde(borrow)]
    data: Vec<(KeyIn, &'a RawValue, u64)>,
    requests: Vec<(String, Vec<LifeIn>)>,
}

/// One remembered life of an origin: (incarnation, last applied, and each
/// (request id, index, outcome)).
type LifeIn = (u32, u64, Vec<(u64, u64, u8)>);

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KeyIn {
    Int(i64),
    Str(String),
}

fn push_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("strings serialise"));
}

/// A duplicate-filter outcome as a number, in every encoding of a snapshot.
pub fn outcome_code(first: FirstApplied) -> u8 {
    match first {
        FirstApplied::Written => 0,
        FirstApplied::CasRefused { key_missing: true } => 1,
        FirstApplied::CasRefused { key_missing: false } => 2,
    }
}

/// What [`outcome_code`] gave.
pub fn first_applied(code: u8) -> Result<FirstApplied, String> {
    match code {
        0 => Ok(FirstApplied::Written),
        1 => Ok(FirstApplied::CasRefused { key_missing: true }),
        2 => Ok(FirstApplied::CasRefused { key_missing: false }),
        other => Err(format!("unknown request outcome {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::Applied;
    use crate::message::{Command, Entry, RequestId};

    fn write(key: Key, value: &str, request: Option<(u32, u64)>) -> Entry {
        Entry {
            term: 2,
            command: Command::Write {
                key,
                value: Value::parse(value).expect("valid JSON"),
            },
            request: request.map(|(node, id)| RequestId {
                origin: Id::Node(node),
                id,
            }),
        }
    }

    fn applied_kv() -> Kv {
        let mut kv = Kv::default();
        let entries = [
            write(Key::Int(1), "123456789012345678901234567890", Some((2, 7))),
            write(
                Key::Str("k \"x\"".into()),
                "[1e400, 2.50, -0]",
                Some((2, 1 << 32)),
            ),
            write(Key::Int(-3), "{\"b\":1,\"a\":\"é\"}", None),
            write(Key::Int(4), "0", None),
            write(Key::Int(5), "17", None),
            write(Key::Int(6), "-42", None),
            Entry {
                term: 3,
                command: Command::Cas {
                    key: Key::Int(9),
                    from: Value::from(1),
                    to: Value::from(2),
                    create_if_not_exists: false,
                },
                request: Some(RequestId {
                    origin: Id::Node(3),
                    id: 5,
                }),
            },
        ];
        for (k, entry) in entries.iter().enumerate() {
            kv.apply(k as u64 + 1, entry);
        }
        kv
    }

    #[test]
    fn a_snapshot_reads_back_as_it_was_written_values_and_duplicate_filter_included() {
        let snapshot = Snapshot {
            index: 7,
            term: 3,
            members: vec![Id::Node(1), Id::Node(2), Id::Node(3)],
            kv: applied_kv(),
        };
        let text = snapshot.encode();
        assert!(
            text.contains("[4,0,4],[5,17,5],[6,-42,6]"),
            "integers as written: {text}"
        );
        let back = Snapshot::decode(&text).expect("decodes");
        assert_eq!(back, snapshot);
        // The filter came through: a copy of request (n2, 7) is a duplicate.
        let mut kv = back.kv;
        let again = write(Key::Int(1), "1", Some((2, 7)));
        assert!(matches!(
            kv.apply(8, &again),
            Applied::Duplicate { index: 1, .. }
        ));
        assert_eq!(kv.applied_index(), 8);
    }

    #[test]
    fn damaged_snapshot_text_is_refused_with_the_reason() {
        let snapshot = Snapshot {
            index: 7,
            term: 3,
            members: vec![Id::Node(1)],
            kv: applied_kv(),
        };
        let text = snapshot.encode();
        assert!(Snapshot::decode(&text[..text.len() - 3]).is_err());
        let later = text.replace("\"index\":7", "\"index\":2");
        let why = Snapshot::decode(&later).expect_err("a key written after it");
        assert!(why.contains("after the snapshot"), "{why}");
    }
}
