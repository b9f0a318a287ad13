//! The fast path of decoding: the envelope and body read straight into
//! typed, borrowed fields by serde's derive, with no `serde_json::Value`
//! tree for the envelope. Client values are borrowed as their text and read
//! with [`Value::parse`], which keeps every number exactly as written.
//!
//! It is strict on purpose. An unknown or repeated field, a null where the
//! general decoder would complain, any type that decoder would reject: all
//! fail here, and the line goes to the general decoder ([`super::Fields`]),
//! which says exactly what is wrong. So this path only decides lines the
//! general decoder accepts, through the same decoding functions, to the same
//! result (`tests/decoder_golden.rs` pins that on 4,615 lines, most of them
//! malformed).

use std::borrow::Cow;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::source::{absent, entry, need, Source};
use crate::data::{Key, Value};
use crate::durable::{HardState, Record};
use crate::id::Id;
use crate::message::Entry;

/// Deserializes a field that is present (null included, which then fails
/// for any type but `Value`) into `Some`; `#[serde(default)]` makes an
/// absent one `None`. Plain `Option` would read null as absent, which the
/// general decoder does not.
pub(super) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Envelope<'a> {
    #[serde(borrow)]
    pub(super) src: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) dest: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) body: Box<Body<'a>>,
    /// Maelstrom numbers the messages it routes; the node ignores it.
    #[serde(default, rename = "id", deserialize_with = "present")]
    _maelstrom_id: Option<IgnoredAny>,
}

/// Every field of every message type the decoder reads, each optional:
/// which are needed depends on `type`, and the decoding functions ask.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Body<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Cow<'a, str>,
    #[serde(default)]
    pub(super) msg_id: Option<u64>,
    #[serde(default)]
    pub(super) in_reply_to: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    key: Option<KeyField>,
    #[serde(default, deserialize_with = "present", borrow)]
    value: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "present", borrow)]
    from: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "present", borrow)]
    to: Option<&'a RawValue>,
    #[serde(default)]
    last_write_index: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    prefer_follower: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    create_if_not_exists: Option<bool>,
    #[serde(default, deserialize_with = "present", borrow)]
    node_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present", borrow)]
    node_ids: Option<Vec<Cow<'a, str>>>,
    #[serde(default)]
    term: Option<u64>,
    #[serde(default)]
    last_log_index: Option<u64>,
    #[serde(default)]
    last_log_term: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pre_vote: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    vote_granted: Option<bool>,
    #[serde(default)]
    prev_log_index: Option<u64>,
    #[serde(default)]
    prev_log_term: Option<u64>,
    #[serde(default, deserialize_with = "present", borrow)]
    entries: Option<Vec<EntryFields<'a>>>,
    #[serde(default)]
    leader_commit: Option<u64>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    success: Option<bool>,
    #[serde(default)]
    match_index: Option<u64>,
    #[serde(default)]
    next_index_hint: Option<u64>,
    #[serde(default)]
    fwd_id: Option<u64>,
    #[serde(default, deserialize_with = "present", borrow)]
    op: Option<Box<Body<'a>>>,
    #[serde(default, deserialize_with = "present", borrow)]
    result: Option<Box<Body<'a>>>,
    #[serde(default, deserialize_with = "present", borrow)]
    reason: Option<Cow<'a, str>>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    commit_index: Option<u64>,
    #[serde(default)]
    commit_term: Option<u64>,
    #[serde(default)]
    code: Option<u64>,
    #[serde(default, deserialize_with = "present", borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present", borrow)]
    served_by: Option<Cow<'a, str>>,
    #[serde(default)]
    follower_applied_index: Option<u64>,
    #[serde(default)]
    leader_applied_index: Option<u64>,
    #[serde(default)]
    waited_ms: Option<u64>,
}

/// One entry of `append_entries`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFields<'a> {
    #[serde(default)]
    term: Option<u64>,
    #[serde(default, deserialize_with = "present", borrow)]
    op: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    key: Option<KeyField>,
    #[serde(default, deserialize_with = "present", borrow)]
    value: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "present", borrow)]
    from: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "present", borrow)]
    to: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "present")]
    create_if_not_exists: Option<bool>,
    #[serde(default, deserialize_with = "present", borrow)]
    origin: Option<Cow<'a, str>>,
    #[serde(default)]
    request_id: Option<u64>,
}

/// A key as the general decoder takes it: a string, or an integer that
/// fits an `i64` (not `1.0`, not 2^63).
pub(super) struct KeyField(Key);

impl<'de> Deserialize<'de> for KeyField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeyField, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyField;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<KeyField, E> {
                Ok(KeyField(Key::Str(s.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<KeyField, E> {
                Ok(KeyField(Key::Int(n)))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<KeyField, E> {
                i64::try_from(n)
                    .map(|n| KeyField(Key::Int(n)))
                    .map_err(|_| E::custom("an integer key beyond i64"))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// The key, as operations and log entries both carry it.
pub(super) fn op_key(name: &str, key: &Option<KeyField>) -> Result<Key, String> {
    match (name, key) {
        ("key", Some(KeyField(key))) => Ok(key.clone()),
        _ => Err(absent()),
    }
}

/// The client value named `value`, `from` or `to` (in that order in
/// `fields`), as operations and log entries both carry them.
/// Read from its text, so that it is kept exactly ([`Value::parse`]).
pub(super) fn op_value(name: &str, fields: [Option<&RawValue>; 3]) -> Result<Value, String> {
    let [value, from, to] = fields;
    let field = match name {
        "value" => value,
        "from" => from,
        "to" => to,
        _ => None,
    };
    Value::parse(need(field)?.get()).map_err(|_| absent())
}

impl<'a> Body<'a> {
    fn number(&self, name: &str) -> Option<u64> {
        match name {
            "msg_id" => self.msg_id,
            "in_reply_to" => self.in_reply_to,
            "last_write_index" => self.last_write_index,
            "term" => self.term,
            "last_log_index" => self.last_log_index,
            "last_log_term" => self.last_log_term,
            "prev_log_index" => self.prev_log_index,
            "prev_log_term" => self.prev_log_term,
            "leader_commit" => self.leader_commit,
            "seq" => self.seq,
            "match_index" => self.match_index,
            "next_index_hint" => self.next_index_hint,
            "fwd_id" => self.fwd_id,
            "index" => self.index,
            "commit_index" => self.commit_index,
            "commit_term" => self.commit_term,
            "code" => self.code,
            "follower_applied_index" => self.follower_applied_index,
            "leader_applied_index" => self.leader_applied_index,
            "waited_ms" => self.waited_ms,
            _ => None,
        }
    }

    fn flag(&self, name: &str) -> Option<bool> {
        match name {
            "prefer_follower" => self.prefer_follower,
            "create_if_not_exists" => self.create_if_not_exists,
            "pre_vote" => self.pre_vote,
            "vote_granted" => self.vote_granted,
            "success" => self.success,
            _ => None,
        }
    }

    fn text_field(&self, name: &str) -> Option<&str> {
        let field = match name {
            "type" => Some(&self.kind),
            "node_id" => self.node_id.as_ref(),
            "reason" => self.reason.as_ref(),
            "text" => self.text.as_ref(),
            "served_by" => self.served_by.as_ref(),
            _ => None,
        };
        field.map(|text| &**text)
    }
}

/// Implemented for the reference, so that a nested object (`op`,
/// `result`) is a `Source` of the same type.
impl<'a> Source for &Body<'a> {
    type Obj<'b>
        = &'b Body<'a>
    where
        Self: 'b;

    fn path(&self, _: &str) -> String {
        absent()
    }
    fn has(&self, name: &str) -> bool {
        // Only asked of `reason`, `origin` and `text`.
        self.text_field(name).is_some()
    }
    fn u64(&self, name: &str) -> Result<u64, String> {
        need(self.number(name))
    }
    fn opt_u64(&self, name: &str) -> Result<Option<u64>, String> {
        Ok(self.number(name))
    }
    fn bool(&self, name: &str) -> Result<bool, String> {
        need(self.flag(name))
    }
    fn opt_bool(&self, name: &str, default: bool) -> Result<bool, String> {
        Ok(self.flag(name).unwrap_or(default))
    }
    fn string(&self, name: &str) -> Result<&str, String> {
        need(self.text_field(name))
    }
    fn ids(&self, name: &str) -> Result<Vec<Id>, String> {
        let ids = match name {
            "node_ids" => need(self.node_ids.as_ref())?,
            _ => return Err(absent()),
        };
        Ok(ids.iter().map(|id| Id::parse(id)).collect())
    }
    fn key(&self, name: &str) -> Result<Key, String> {
        op_key(name, &self.key)
    }
    fn value(&self, name: &str) -> Result<Value, String> {
        op_value(name, [self.value, self.from, self.to])
    }
    fn object<'b>(&'b self, name: &'b str) -> Result<&'b Body<'a>, String> {
        let object = match name {
            "op" => self.op.as_deref(),
            "result" => self.result.as_deref(),
            _ => None,
        };
        need(object)
    }
    fn entries(&self, name: &str) -> Result<Vec<Entry>, String> {
        let fields = match name {
            "entries" => need(self.entries.as_ref())?,
            _ => return Err(absent()),
        };
        fields.iter().map(entry).collect()
    }
}

impl Source for EntryFields<'_> {
    type Obj<'b>
        = &'b Body<'b>
    where
        Self: 'b;

    fn path(&self, _: &str) -> String {
        absent()
    }
    fn has(&self, name: &str) -> bool {
        name == "origin" && self.origin.is_some()
    }
    fn u64(&self, name: &str) -> Result<u64, String> {
        need(match name {
            "term" => self.term,
            "request_id" => self.request_id,
            _ => None,
        })
    }
    fn opt_u64(&self, name: &str) -> Result<Option<u64>, String> {
        self.u64(name).map(Some)
    }
    fn bool(&self, name: &str) -> Result<bool, String> {
        match name {
            "create_if_not_exists" => need(self.create_if_not_exists),
            _ => Err(absent()),
        }
    }
    fn opt_bool(&self, name: &str, default: bool) -> Result<bool, String> {
        match name {
            "create_if_not_exists" => Ok(self.create_if_not_exists.unwrap_or(default)),
            _ => Err(absent()),
        }
    }
    fn string(&self, name: &str) -> Result<&str, String> {
        let field = match name {
            "op" => self.op.as_deref(),
            "origin" => self.origin.as_deref(),
            _ => None,
        };
        need(field)
    }
    fn ids(&self, _: &str) -> Result<Vec<Id>, String> {
        Err(absent())
    }
    fn key(&self, name: &str) -> Result<Key, String> {
        op_key(name, &self.key)
    }
    fn value(&self, name: &str) -> Result<Value, String> {
        op_value(name, [self.value, self.from, self.to])
    }
    fn object<'b>(&'b self, _: &'b str) -> Result<&'b Body<'b>, String> {
        Err(absent())
    }
    fn entries(&self, _: &str) -> Result<Vec<Entry>, String> {
        Err(absent())
    }
}

/// A durable record ([`super::encode_record`]), every field optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordFields<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    term: Option<u64>,
    #[serde(default, deserialize_with = "present", borrow)]
    voted_for: Option<Cow<'a, str>>,
    #[serde(default)]
    starts: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    recovering: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    lost: Option<bool>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, deserialize_with = "present", borrow)]
    entry: Option<EntryFields<'a>>,
}

/// The fast path of [`super::decode_record`]: a well-formed record, or
/// `None` for the general decoder to read and word the complaint.
pub(super) fn record(text: &str) -> Option<Record> {
    let fields: RecordFields<'_> = serde_json::from_str(text).ok()?;
    match &*fields.kind {
        "base" => Some(Record::Base {
            index: fields.index?,
            term: fields.term?,
        }),
        "hard_state" => Some(Record::HardState(HardState {
            current_term: fields.term?,
            voted_for: fields.voted_for.map(|id| Id::parse(&id)),
            starts: fields.starts?,
            recovering: fields.recovering.unwrap_or(false),
            lost: fields.lost.unwrap_or(false),
        })),
        "entry" => Some(Record::Entry {
            index: fields.index?,
            entry: entry(&fields.entry?).ok()?,
        }),
        _ => None,
    }
}
