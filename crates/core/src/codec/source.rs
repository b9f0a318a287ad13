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
