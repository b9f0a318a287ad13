//! What the decoding functions read from: an object's fields by name,
//! whichever decoder holds them (the general decoder's `serde_json` tree,
//! or the typed fast path's structs), and the one reading of a log entry
//! written over it.

use crate::data::{Key, Value};
use crate::id::Id;
use crate::message::{Command, Entry, RequestId};

/// A JSON object's fields by name, as the decoding functions read them.
/// `Fields` (in the codec) reads a `serde_json::Value` object and says exactly what is
/// wrong; the typed structs of `typed` read the common messages without
/// building that tree. The decoding logic is written once, over this trait.
pub(super) trait Source {
    type Obj<'b>: Source
    where
        Self: 'b;

    /// `field 'body.op.key'`: how an error names field `name`.
    fn path(&self, name: &str) -> String;
    fn has(&self, name: &str) -> bool;
    fn u64(&self, name: &str) -> Result<u64, String>;
    /// Absent or null: `None`.
    fn opt_u64(&self, name: &str) -> Result<Option<u64>, String>;
    fn bool(&self, name: &str) -> Result<bool, String>;
    /// Absent: `default`; null is an error.
    fn opt_bool(&self, name: &str, default: bool) -> Result<bool, String>;
    fn string(&self, name: &str) -> Result<&str, String>;
    fn ids(&self, name: &str) -> Result<Vec<Id>, String>;
    fn key(&self, name: &str) -> Result<Key, String>;
    fn value(&self, name: &str) -> Result<Value, String>;
    fn object<'b>(&'b self, name: &'b str) -> Result<Self::Obj<'b>, String>;
    fn entries(&self, name: &str) -> Result<Vec<Entry>, String>;

    fn id(&self, name: &str) -> Result<Id, String> {
        self.string(name).map(Id::parse)
    }

    /// Absent: `None`; present, it must be a string.
    fn opt_str(&self, name: &str) -> Result<Option<&str>, String> {
        if self.has(name) {
            self.string(name).map(Some)
        } else {
            Ok(None)
        }
    }

    fn opt_string(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self.opt_str(name)?.map(str::to_owned))
    }
}

/// One log entry (`append_entries`, durable records).
pub(super) fn entry<S: Source>(e: &S) -> Result<Entry, String> {
    let command = match e.string("op")? {
        "noop" => Command::Noop,
        "write" => Command::Write {
            key: e.key("key")?,
            value: e.value("value")?,
        },
        "cas" => Command::Cas {
            key: e.key("key")?,
            from: e.value("from")?,
            to: e.value("to")?,
            create_if_not_exists: e.opt_bool("create_if_not_exists", false)?,
        },
        other => return Err(format!("{}: unknown op {other:?}", e.path("op"))),
    };
    let request = if e.has("origin") {
        Some(RequestId {
            origin: e.id("origin")?,
            id: e.u64("request_id")?,
        })
    } else {
        None
    };
    Ok(Entry {
        term: e.u64("term")?,
        command,
        request,
    })
}

/// The error of a fast path: its text is never shown (the general decoder
/// reruns the line and words the complaint).
pub(super) fn absent() -> String {
    String::new()
}

pub(super) fn need<T>(field: Option<T>) -> Result<T, String> {
    field.ok_or_else(absent)
}

/// A client's request as the fast paths hold it (`client_scan`,
/// `client_typed`): only a request's fields, so no nested objects, ids or
/// entries; asking for them is asking for what is absent, as it would be
/// of the full body. One `Source` serves both.
pub(super) trait RequestFields {
    fn kind(&self) -> &str;
    /// `msg_id`, `in_reply_to` or `last_write_index`.
    fn number(&self, name: &str) -> Option<u64>;
    /// `prefer_follower` or `create_if_not_exists`.
    fn flag(&self, name: &str) -> Option<bool>;
    fn key(&self, name: &str) -> Result<Key, String>;
    /// `value`, `from` or `to`.
    fn value(&self, name: &str) -> Result<Value, String>;
}

impl<R: RequestFields> Source for &R {
    type Obj<'b>
        = &'b R
    where
        Self: 'b;

    fn path(&self, _: &str) -> String {
        absent()
    }
    fn has(&self, name: &str) -> bool {
        name == "type"
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
        match name {
            "type" => Ok(self.kind()),
            _ => Err(absent()),
        }
    }
    fn ids(&self, _: &str) -> Result<Vec<Id>, String> {
        Err(absent())
    }
    fn key(&self, name: &str) -> Result<Key, String> {
        RequestFields::key(*self, name)
    }
    fn value(&self, name: &str) -> Result<Value, String> {
        RequestFields::value(*self, name)
    }
    fn object<'b>(&'b self, _: &'b str) -> Result<&'b R, String> {
        Err(absent())
    }
    fn entries(&self, _: &str) -> Result<Vec<Entry>, String> {
        Err(absent())
    }
}
