//! The fastest path of decoding, for the messages a node gets most from
//! outside: a client's request (`write`, `cas`, `read`, `ryw_read`). Its
//! body is read into a struct of only the fields a request has, instead of
//! the one that holds every field of every message ([`super::typed`]):
//! serde's derived code does work for every field a struct declares, and
//! that struct declares forty.
//!
//! Tried only on lines that start as a client's do (`{"src": "c…`), and
//! exact by construction: every field here is declared as in
//! [`super::typed::Body`], and unknown fields are refused, so a line this
//! path reads, the general path reads to the same values; any other line
//! (an `init`, a reply, a peer's message, a request with a field too many)
//! fails here and takes the general path.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::source::RequestFields;
use super::typed::{op_key, op_value, present, KeyField};
use crate::data::{Key, Value};

/// Whether `line` begins as a client's message does, compact or spaced.
pub(super) fn from_a_client(line: &str) -> bool {
    line.starts_with(r#"{"src":"c"#) || line.starts_with(r#"{"src": "c"#)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Envelope<'a> {
    #[serde(borrow)]
    pub(super) src: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) dest: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) body: Request<'a>,
    /// Maelstrom numbers the messages it routes; the node ignores it.
    #[serde(default, rename = "id", deserialize_with = "present")]
    _maelstrom_id: Option<IgnoredAny>,
}

/// A client request's fields, each declared exactly as in `typed::Body`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Request<'a> {
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
}

impl RequestFields for Request<'_> {
    fn kind(&self) -> &str {
        &self.kind
    }
    fn number(&self, name: &str) -> Option<u64> {
        match name {
            "msg_id" => self.msg_id,
            "in_reply_to" => self.in_reply_to,
            "last_write_index" => self.last_write_index,
            _ => None,
        }
    }
    fn flag(&self, name: &str) -> Option<bool> {
        match name {
            "prefer_follower" => self.prefer_follower,
            "create_if_not_exists" => self.create_if_not_exists,
            _ => None,
        }
    }
    fn key(&self, name: &str) -> Result<Key, String> {
        op_key(name, &self.key)
    }
    fn value(&self, name: &str) -> Result<Value, String> {
        op_value(name, [self.value, self.from, self.to])
    }
}
