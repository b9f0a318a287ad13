//! One durable record as the bytes of a frame's payload, in either of the
//! two log formats a log file's header names (see the crate doc):
//!
//! - **format 3, binary** (`"RYWLOGv3"`, what this version writes): a tag
//!   byte, the fields in a fixed order, numbers as LEB128 varints, strings
//!   as a varint length and UTF-8 bytes, and a final newline. No JSON
//!   tokenizer on the way in or out: it costs a fraction of format 2, and
//!   the log is written on every batch.
//! - **format 2, JSON** (`"RYWLOG2\n"`, older versions): one JSON object per
//!   record (`ryw_core::codec::encode_record`). Still read, and appended to
//!   in kind, so a data directory an older node wrote opens and carries on;
//!   its next compaction writes format 3.
//!
//! A binary record, field by field:
//!
//! ```text
//! base        1  index  term
//! hard_state  2  term  flags  [voted_for]  starts      flags: 1 voted, 2 recovering, 4 lost
//! entry       3  index  term  command  flags  [origin  request_id]
//!                                               flags: 1 forwarded (origin and id follow), 2 create_if_not_exists
//! command     0 (no-op) | 1 key value (write) | 2 key from to (cas)
//! key         0 zigzag(i64) | 1 string
//! value       0 zigzag(i64), a JSON integer | 1 string, a JSON string's contents
//!             | 2 string, any other value's exact JSON text
//! id          0 k (n<k>) | 1 k (c<k>) | 2 string (any other id)
//! ```
//!
//! The newline that ends a record keeps a promise `frame` relies on: an
//! intact record never ends in a zero byte, so a file that ends in zeros
//! was left so by a crash.

use ryw_core::codec::{decode_record, encode_record};
use ryw_core::durable::{HardState, Record};
use ryw_core::{Command, Entry, Id, Key, RequestId, Value};

/// The header of a log file this version writes: magic and format 3.
pub const HEADER: &[u8; 8] = b"RYWLOGv3";

/// The header of a format-2 log (JSON records), still read. It is six bits
/// away from [`HEADER`], so a header with one flipped bit is the damaged
/// header of exactly one format, and two flipped bits never make a header
/// of the other.
pub const HEADER_JSON: &[u8; 8] = b"RYWLOG2\n";

/// Every record of format 3, and a snapshot file's payload, ends with this byte.
pub(crate) const END: u8 = b'\n';

const BASE: u8 = 1;
const HARD_STATE: u8 = 2;
const ENTRY: u8 = 3;

const NOOP: u8 = 0;
const WRITE: u8 = 1;
const CAS: u8 = 2;

const VOTED: u8 = 1;
const RECOVERING: u8 = 2;
const LOST: u8 = 4;

const FORWARDED: u8 = 1;
const CREATE_IF_NOT_EXISTS: u8 = 2;

/// Which of the two formats a log file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Format 2: a JSON object per record.
    Json,
    /// Format 3: binary records.
    Binary,
}

impl LogFormat {
    pub fn header(self) -> &'static [u8; 8] {
        match self {
            LogFormat::Json => HEADER_JSON,
            LogFormat::Binary => HEADER,
        }
    }

    /// The format whose header `bytes` (a header's first bytes, or all of
    /// them) is nearest, and how many bits `bytes` is off from it.
    pub fn nearest(bytes: &[u8]) -> (LogFormat, u32) {
        let off = |format: LogFormat| -> u32 {
            bytes
                .iter()
                .zip(format.header())
                .map(|(a, b)| (a ^ b).count_ones())
                .sum()
        };
        let (json, binary) = (off(LogFormat::Json), off(LogFormat::Binary));
        if json < binary {
            (LogFormat::Json, json)
        } else {
            (LogFormat::Binary, binary)
        }
    }

    /// Appends `record` as a payload of this format to `out`.
    pub fn encode(self, record: &Record, out: &mut Vec<u8>) {
        match self {
            LogFormat::Binary => encode(record, out),
            LogFormat::Json => {
                let mut text = String::new();
                encode_record(record, &mut text);
                out.extend_from_slice(text.as_bytes());
            }
        }
    }

    /// Reads one payload of this format; an error names the field.
    pub fn decode(self, payload: &[u8]) -> Result<Record, String> {
        match self {
            LogFormat::Binary => decode(payload),
            LogFormat::Json => {
                let text = std::str::from_utf8(payload).map_err(|e| e.to_string())?;
                decode_record(text)
            }
        }
    }
}

/// Appends `record` in format 3 to `out`.
pub fn encode(record: &Record, out: &mut Vec<u8>) {
    match record {
        Record::Base { index, term } => {
            out.push(BASE);
            varint(out, *index);
            varint(out, *term);
        }
        Record::HardState(hard) => {
            out.push(HARD_STATE);
            varint(out, hard.current_term);
            let flags = flag(hard.voted_for.is_some(), VOTED)
                | flag(hard.recovering, RECOVERING)
                | flag(hard.lost, LOST);
            out.push(flags);
            if let Some(vote) = &hard.voted_for {
                id(out, vote);
            }
            varint(out, hard.starts);
        }
        Record::Entry { index, entry } => {
            out.push(ENTRY);
            varint(out, *index);
            encode_entry(entry, out);
        }
    }
    out.push(END);
}

fn encode_entry(entry: &Entry, out: &mut Vec<u8>) {
    varint(out, entry.term);
    let mut create = false;
    match &entry.command {
        Command::Noop => out.push(NOOP),
        Command::Write { key: k, value: v } => {
            out.push(WRITE);
            key(out, k);
            value(out, v);
        }
        Command::Cas {
            key: k,
            from,
            to,
            create_if_not_exists,
        } => {
            out.push(CAS);
            key(out, k);
            value(out, from);
            value(out, to);
            create = *create_if_not_exists;
        }
    }
    out.push(flag(entry.request.is_some(), FORWARDED) | flag(create, CREATE_IF_NOT_EXISTS));
    if let Some(request) = &entry.request {
        id(out, &request.origin);
        varint(out, request.id);
    }
}

fn flag(set: bool, bit: u8) -> u8 {
    if set {
        bit
    } else {
        0
    }
}

pub(crate) fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

pub(crate) fn string(out: &mut Vec<u8>, text: &str) {
    varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

pub(crate) fn id(out: &mut Vec<u8>, id: &Id) {
    match id {
        Id::Node(k) => {
            out.push(0);
            varint(out, u64::from(*k));
        }
        Id::Client(k) => {
            out.push(1);
            varint(out, u64::from(*k));
        }
        Id::Other(text) => {
            out.push(2);
            string(out, text);
        }
    }
}

pub(crate) fn key(out: &mut Vec<u8>, key: &Key) {
    match key {
        Key::Int(n) => {
            out.push(0);
            varint(out, zigzag(*n));
        }
        Key::Str(text) => {
            out.push(1);
            string(out, text);
        }
    }
}

pub(crate) fn value(out: &mut Vec<u8>, value: &Value) {
    // What workloads store, integers and strings, without a serializer.
    match value {
        Value::Json(json) if json.as_i64().is_some() => {
            out.push(0);
            varint(out, zigzag(json.as_i64().expect("checked")));
        }
        Value::Json(serde_json::Value::String(text)) => {
            out.push(1);
            string(out, text);
        }
        Value::Json(json) => {
            out.push(2);
            string(out, &json.to_string());
        }
        Value::Text(text) => {
            out.push(2);
            string(out, text.as_str());
        }
    }
}

/// Reads one format-3 record; an error names the field and the byte.
pub fn decode(payload: &[u8]) -> Result<Record, String> {
    let mut r = Reader {
        bytes: payload,
        at: 0,
    };
    let record = match r.byte("type")? {
        BASE => Record::Base {
            index: r.varint("index")?,
            term: r.varint("term")?,
        },
        HARD_STATE => {
            let current_term = r.varint("term")?;
            let flags = r.flags("flags", VOTED | RECOVERING | LOST)?;
            let voted_for = if flags & VOTED != 0 {
                Some(r.id("voted_for")?)
            } else {
                None
            };
            Record::HardState(HardState {
                current_term,
                voted_for,
                starts: r.varint("starts")?,
                recovering: flags & RECOVERING != 0,
                lost: flags & LOST != 0,
            })
        }
        ENTRY => Record::Entry {
            index: r.varint("index")?,
            entry: r.entry()?,
        },
        other => return Err(format!("type: unknown record type {other}")),
    };
    r.end()?;
    Ok(record)
}

/// A cursor over one payload; each read names its field for the error.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// A count of items to follow, each at least one byte: more than the
    /// bytes left is damage (and no allocation is made for it).
    pub(crate) fn count(&mut self, field: &str) -> Result<usize, String> {
        let n = self.varint(field)?;
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            return Err(self.error(field, &format!("{n} items in {left} bytes")));
        }
        Ok(n as usize)
    }

    /// The end byte, and nothing after it.
    pub(crate) fn end(&mut self) -> Result<(), String> {
        match self.byte("end")? {
            END => {}
            other => return Err(self.error("end", &format!("{other} where the record should end"))),
        }
        if self.at < self.bytes.len() {
            return Err(format!(
                "{} bytes after the record's end",
                self.bytes.len() - self.at
            ));
        }
        Ok(())
    }

    pub(crate) fn error(&self, field: &str, why: &str) -> String {
        format!("{field}: {why} (byte {} of the record)", self.at)
    }

    pub(crate) fn byte(&mut self, field: &str) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| self.error(field, "the record ends before it"))?;
        self.at += 1;
        Ok(b)
    }

    fn flags(&mut self, field: &str, known: u8) -> Result<u8, String> {
        let flags = self.byte(field)?;
        if flags & !known != 0 {
            return Err(self.error(field, &format!("unknown flags {:#04x}", flags & !known)));
        }
        Ok(flags)
    }

    pub(crate) fn varint(&mut self, field: &str) -> Result<u64, String> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte(field)?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(self.error(field, "a number beyond 64 bits"));
            }
            n |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(self.error(field, "a number beyond 64 bits"))
    }

    pub(crate) fn u32(&mut self, field: &str) -> Result<u32, String> {
        let n = self.varint(field)?;
        u32::try_from(n).map_err(|_| self.error(field, &format!("{n} is beyond 32 bits")))
    }

    pub(crate) fn string(&mut self, field: &str) -> Result<&str, String> {
        let length = self.varint(field)?;
        let end = usize::try_from(length)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.error(field, &format!("{length} bytes run past the record")))?;
        let text = std::str::from_utf8(&self.bytes[self.at..end])
            .map_err(|e| self.error(field, &e.to_string()))?;
        self.at = end;
        Ok(text)
    }

    pub(crate) fn id(&mut self, field: &str) -> Result<Id, String> {
        Ok(match self.byte(field)? {
            0 => Id::Node(self.u32(field)?),
            1 => Id::Client(self.u32(field)?),
            2 => Id::parse(self.string(field)?),
            other => return Err(self.error(field, &format!("unknown id kind {other}"))),
        })
    }

    pub(crate) fn key(&mut self, field: &str) -> Result<Key, String> {
        Ok(match self.byte(field)? {
            0 => Key::Int(unzigzag(self.varint(field)?)),
            1 => Key::Str(self.string(field)?.to_owned()),
            other => return Err(self.error(field, &format!("unknown key kind {other}"))),
        })
    }

    pub(crate) fn value(&mut self, field: &str) -> Result<Value, String> {
        Ok(match self.byte(field)? {
            0 => Value::Json(unzigzag(self.varint(field)?).into()),
            1 => Value::Json(self.string(field)?.into()),
            2 => {
                let text = self.string(field)?;
                Value::parse(text).map_err(|e| self.error(field, &e.to_string()))?
            }
            other => return Err(self.error(field, &format!("unknown value kind {other}"))),
        })
    }

    fn entry(&mut self) -> Result<Entry, String> {
        let term = self.varint("entry.term")?;
        let command = match self.byte("entry.op")? {
            NOOP => Command::Noop,
            WRITE => Command::Write {
                key: self.key("entry.key")?,
                value: self.value("entry.value")?,
            },
            CAS => Command::Cas {
                key: self.key("entry.key")?,
                from: self.value("entry.from")?,
                to: self.value("entry.to")?,
                create_if_not_exists: false,
            },
            other => return Err(self.error("entry.op", &format!("unknown command {other}"))),
        };
        let flags = self.flags("entry.flags", FORWARDED | CREATE_IF_NOT_EXISTS)?;
        let command = match command {
            Command::Cas { key, from, to, .. } => Command::Cas {
                key,
                from,
                to,
                create_if_not_exists: flags & CREATE_IF_NOT_EXISTS != 0,
            },
            _ if flags & CREATE_IF_NOT_EXISTS != 0 => {
                return Err(self.error("entry.flags", "create_if_not_exists on a command not a cas"))
            }
            other => other,
        };
        let request = if flags & FORWARDED != 0 {
            Some(RequestId {
                origin: self.id("entry.origin")?,
                id: self.varint("entry.request_id")?,
            })
        } else {
            None
        };
        Ok(Entry {
            term,
            command,
            request,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        Value::parse(text).expect("JSON")
    }

    /// One of each shape a record can take, the odd values included.
    fn records() -> Vec<Record> {
        let values = [
            "0",
            "-1",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551615",
            "123456789012345678901234567890",
            "1.5",
            "1e400",
            "-0",
            "null",
            "true",
            "\"a \\\"quoted\\\" é\"",
            "[1,{\"b\":2.50,\"a\":null}]",
        ];
        let ids = [
            Id::Node(0),
            Id::Node(u32::MAX),
            Id::Client(7),
            Id::parse("n01"),
            Id::parse("ü"),
        ];
        let keys = [
            Key::Int(0),
            Key::Int(i64::MIN),
            Key::Int(i64::MAX),
            Key::Str(String::new()),
            Key::Str("k\u{0}ey".into()),
        ];
        let mut records = vec![
            Record::Base { index: 0, term: 0 },
            Record::Base {
                index: u64::MAX,
                term: 1 << 63,
            },
        ];
        for (k, id) in ids.iter().enumerate() {
            records.push(Record::HardState(HardState {
                current_term: k as u64 * 1000,
                voted_for: (k % 2 == 0).then(|| id.clone()),
                starts: u64::MAX - k as u64,
                recovering: k % 3 == 0,
                lost: k % 4 == 1,
            }));
        }
        for (k, text) in values.iter().enumerate() {
            let key = keys[k % keys.len()].clone();
            let request = (k % 2 == 1).then(|| RequestId {
                origin: ids[k % ids.len()].clone(),
                id: k as u64 * 99_999,
            });
            let command = match k % 3 {
                0 => Command::Write {
                    key,
                    value: value(text),
                },
                1 => Command::Cas {
                    key,
                    from: value(text),
                    to: value(values[(k + 1) % values.len()]),
                    create_if_not_exists: k % 4 == 1,
                },
                _ => Command::Noop,
            };
            records.push(Record::Entry {
                index: 1 << (k * 4),
                entry: Entry {
                    term: k as u64,
                    command,
                    request,
                },
            });
        }
        records
    }

    #[test]
    fn every_record_reads_back_as_it_was_in_both_formats() {
        for format in [LogFormat::Binary, LogFormat::Json] {
            for record in records() {
                let mut bytes = Vec::new();
                format.encode(&record, &mut bytes);
                assert_eq!(format.decode(&bytes), Ok(record.clone()), "{format:?}");
                assert_ne!(bytes.last(), Some(&0), "a record never ends in a zero byte");
            }
        }
    }

    #[test]
    fn a_record_cut_short_anywhere_or_followed_by_more_is_an_error_never_a_panic() {
        for record in records() {
            let mut bytes = Vec::new();
            encode(&record, &mut bytes);
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "{record:?} cut at {cut}");
            }
            bytes.push(b'\n');
            let why = decode(&bytes).expect_err("a byte too many");
            assert_eq!(why, "1 bytes after the record's end");
        }
    }

    #[test]
    fn any_byte_changed_reads_as_an_error_or_as_some_record_never_a_panic() {
        // The frame's checksum catches damage first; this is about the
        // decoder's own care with what it is given.
        for record in records() {
            let mut bytes = Vec::new();
            encode(&record, &mut bytes);
            for at in 0..bytes.len() {
                for b in [0, 1, 2, 3, 0x7f, 0x80, 0xff] {
                    let mut changed = bytes.clone();
                    changed[at] = b;
                    let _ = decode(&changed);
                }
            }
        }
    }

    #[test]
    fn errors_name_the_field_and_the_byte() {
        let cases: [(&[u8], &str); 8] = [
            (&[], "type: the record ends before it (byte 0 of the record)"),
            (&[9], "type: unknown record type 9"),
            (&[BASE, 1], "term: the record ends before it (byte 2 of the record)"),
            (
                &[BASE, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
                "index: a number beyond 64 bits (byte 11 of the record)",
            ),
            (&[BASE, 1, 1, b'}'], "end: 125 where the record should end (byte 4 of the record)"),
            (
                &[HARD_STATE, 1, 0x08],
                "flags: unknown flags 0x08 (byte 3 of the record)",
            ),
            (
                &[ENTRY, 1, 1, WRITE, 1, 5, b'a'],
                "entry.key: 5 bytes run past the record (byte 6 of the record)",
            ),
            (
                &[ENTRY, 1, 1, WRITE, 0, 2, 2, 1, b'{', 0, b'\n'],
                "entry.value: EOF while parsing an object at line 1 column 1 (byte 9 of the record)",
            ),
        ];
        for (bytes, why) in cases {
            assert_eq!(decode(bytes), Err(why.to_string()), "{bytes:?}");
        }
        let flags_on_a_write = [ENTRY, 1, 1, WRITE, 0, 2, 0, 2, CREATE_IF_NOT_EXISTS, b'\n'];
        assert_eq!(
            decode(&flags_on_a_write),
            Err(
                "entry.flags: create_if_not_exists on a command not a cas (byte 9 of the record)"
                    .to_string()
            )
        );
    }

    #[test]
    fn the_two_headers_are_far_enough_apart_that_damage_never_confuses_them() {
        let (format, off) = LogFormat::nearest(HEADER_JSON);
        assert_eq!((format, off), (LogFormat::Json, 0));
        assert_eq!(LogFormat::nearest(HEADER), (LogFormat::Binary, 0));
        let apart: u32 = HEADER
            .iter()
            .zip(HEADER_JSON)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert!(apart >= 4, "{apart} bits apart");
    }

    #[test]
    fn a_binary_record_is_a_fraction_of_the_json_one() {
        let record = Record::Entry {
            index: 1234,
            entry: Entry {
                term: 7,
                command: Command::Write {
                    key: Key::Int(42),
                    value: Value::from(98765),
                },
                request: Some(RequestId {
                    origin: Id::Node(3),
                    id: 555,
                }),
            },
        };
        let (mut binary, mut json) = (Vec::new(), Vec::new());
        LogFormat::Binary.encode(&record, &mut binary);
        LogFormat::Json.encode(&record, &mut json);
        assert_eq!(binary.len(), 17);
        assert!(
            json.len() > 5 * binary.len(),
            "{} bytes of JSON",
            json.len()
        );
    }
}
