//! JSON lines in and out.
//!
//! Output is written by hand so that it matches the seed task's samples byte
//! for byte: `", "` and `": "` separators, envelope keys `src, dest, body`,
//! body keys `type, in_reply_to`, payload fields, then `msg_id`.
//! Input is checked field by field so every complaint names its field.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};

use crate::data::{Key, Value};
use crate::decimal::write_u64;
use crate::durable::{HardState, Record};
use crate::id::Id;
use crate::message::*;

mod client_scan;
mod client_typed;
mod source;
use source::{entry, Source};
mod typed;

// ---------------------------------------------------------------- encoding

/// Encodes one envelope as a single JSON line (without the newline).
pub fn encode(envelope: &Envelope) -> String {
    let mut out = String::with_capacity(128);
    encode_into(envelope, &mut out);
    out
}

/// Appends the JSON text of `envelope` to `out`, reusing its allocation.
pub fn encode_into(envelope: &Envelope, out: &mut String) {
    let mut obj = Obj::open(out);
    obj.field("src").id(&envelope.src);
    obj.field("dest").id(&envelope.dest);
    obj.field("body");
    encode_body(obj.out, &envelope.body);
    obj.close();
}

fn encode_body(out: &mut String, body: &Body) {
    let mut obj = Obj::open(out);
    obj.field("type").string(body.payload.type_name());
    if let Some(in_reply_to) = body.in_reply_to {
        obj.field("in_reply_to").u64(in_reply_to);
    }
    encode_payload_fields(&mut obj, &body.payload);
    if let Some(msg_id) = body.msg_id {
        obj.field("msg_id").u64(msg_id);
    }
    obj.close();
}

// Longer than 70 lines on purpose: one arm per message type, so the wire format of each reads in one place.
fn encode_payload_fields(obj: &mut Obj<'_>, payload: &Payload) {
    match payload {
        Payload::Init { node_id, node_ids } => {
            obj.field("node_id").id(node_id);
            obj.field("node_ids").array(node_ids, |w, id| w.id(id));
        }
        Payload::InitOk => {}
        Payload::Request(op) => encode_op_fields(obj, op),
        Payload::Reply(result) => encode_result_fields(obj, result),
        Payload::Peer(PeerMsg::RequestVote(rv)) => {
            obj.field("term").u64(rv.term);
            obj.field("last_log_index").u64(rv.last_log_index);
            obj.field("last_log_term").u64(rv.last_log_term);
            obj.field("pre_vote").bool(rv.pre_vote);
        }
        Payload::Peer(PeerMsg::RequestVoteOk(r)) => {
            obj.field("term").u64(r.term);
            obj.field("vote_granted").bool(r.vote_granted);
            obj.field("pre_vote").bool(r.pre_vote);
        }
        Payload::Peer(PeerMsg::AppendEntries(ae)) => {
            obj.field("term").u64(ae.term);
            obj.field("prev_log_index").u64(ae.prev_log_index);
            obj.field("prev_log_term").u64(ae.prev_log_term);
            obj.field("entries").array(&ae.entries, encode_entry);
            obj.field("leader_commit").u64(ae.leader_commit);
            obj.field("seq").u64(ae.seq);
        }
        Payload::Peer(PeerMsg::AppendEntriesOk(r)) => {
            obj.field("term").u64(r.term);
            obj.field("success").bool(r.success);
            obj.field("match_index").u64(r.match_index);
            obj.field("next_index_hint").u64(r.next_index_hint);
            obj.field("seq").u64(r.seq);
        }
        Payload::Peer(PeerMsg::Forward(f)) => {
            obj.field("fwd_id").u64(f.fwd_id);
            obj.field("op");
            let mut op = Obj::open(obj.out);
            op.field("type").string(f.op.type_name());
            encode_op_fields(&mut op, &f.op);
            op.close();
            if let Some(reason) = f.reason {
                obj.field("reason").string(reason.as_str());
            }
        }
        Payload::Peer(PeerMsg::ForwardOk(f)) => {
            obj.field("fwd_id").u64(f.fwd_id);
            obj.field("result");
            let mut result = Obj::open(obj.out);
            result.field("type").string(f.result.type_name());
            encode_result_fields(&mut result, &f.result);
            result.close();
            if let Some(commit) = f.commit {
                obj.field("commit_index").u64(commit.index);
                obj.field("commit_term").u64(commit.term);
            }
        }
        Payload::Peer(PeerMsg::CommitWanted(w)) => {
            obj.field("term").u64(w.term);
            obj.field("index").u64(w.index);
        }
        Payload::Peer(PeerMsg::CommitNews(n)) => {
            obj.field("term").u64(n.term);
            obj.field("commit_index").u64(n.commit_index);
            obj.field("commit_term").u64(n.commit_term);
        }
        Payload::Peer(PeerMsg::InstallSnapshot(m)) => {
            obj.field("term").u64(m.term);
            obj.field("last_index").u64(m.last_index);
            obj.field("last_term").u64(m.last_term);
            obj.field("offset").u64(m.offset);
            obj.field("data").string(&m.data);
            obj.field("done").bool(m.done);
            obj.field("seq").u64(m.seq);
        }
        Payload::Peer(PeerMsg::InstallSnapshotOk(m)) => {
            obj.field("term").u64(m.term);
            obj.field("last_index").u64(m.last_index);
            obj.field("next_offset").u64(m.next_offset);
            obj.field("done").bool(m.done);
            obj.field("seq").u64(m.seq);
        }
        Payload::Peer(PeerMsg::Probe(p)) => {
            obj.field("incarnation").u64(u64::from(p.incarnation));
            obj.field("last_log_index").u64(p.last_log_index);
        }
        Payload::Peer(PeerMsg::ProbeOk(p)) => {
            obj.field("incarnation").u64(u64::from(p.incarnation));
            obj.field("term").u64(p.term);
            if let Some(vote) = &p.voted_for {
                obj.field("voted_for").id(vote);
            }
            obj.field("last_log_index").u64(p.last_log_index);
            obj.field("last_log_term").u64(p.last_log_term);
            if p.lost {
                obj.field("lost").bool(true);
            }
        }
        Payload::Invalid(Invalid { code, text, .. }) => {
            // Never sent by a node; encoded only so traces can show it.
            obj.field("code").u64(code.0);
            obj.field("text").string(text);
        }
    }
}

fn encode_op_fields(obj: &mut Obj<'_>, op: &ClientOp) {
    match op {
        ClientOp::Write { key, value } => {
            obj.field("key").key(key);
            obj.field("value").value(value);
        }
        ClientOp::Cas {
            key,
            from,
            to,
            create_if_not_exists,
        } => {
            obj.field("key").key(key);
            obj.field("from").value(from);
            obj.field("to").value(to);
            if *create_if_not_exists {
                obj.field("create_if_not_exists").bool(true);
            }
        }
        ClientOp::Read { key } => {
            obj.field("key").key(key);
        }
        ClientOp::RywRead {
            key,
            last_write_index,
            prefer_follower,
        } => {
            obj.field("key").key(key);
            obj.field("last_write_index").u64(*last_write_index);
            obj.field("prefer_follower").bool(*prefer_follower);
        }
    }
}

fn encode_result_fields(obj: &mut Obj<'_>, result: &OpResult) {
    match result {
        OpResult::WriteOk { commit_index } | OpResult::CasOk { commit_index } => {
            obj.field("commit_index").u64(*commit_index);
        }
        OpResult::ReadOk { value } => {
            obj.field("value").value(value);
        }
        OpResult::RywReadOk {
            value,
            served_by,
            applied_index,
            how,
        } => {
            obj.field("value").value(value);
            obj.field("served_by").id(served_by);
            match how {
                Served::Locally { waited_ms } => {
                    obj.field("follower_applied_index").u64(*applied_index);
                    obj.field("waited_ms").u64(*waited_ms);
                }
                Served::Redirected { reason } => {
                    obj.field("reason").string(reason.as_str());
                    obj.field("leader_applied_index").u64(*applied_index);
                }
            }
        }
        OpResult::Error { code, text } => {
            obj.field("code").u64(code.0);
            obj.field("text").string(text);
        }
    }
}

fn encode_entry(w: Writer<'_>, entry: &Entry) {
    let mut obj = Obj::open(w.out);
    obj.field("term").u64(entry.term);
    match &entry.command {
        Command::Noop => {
            obj.field("op").string("noop");
        }
        Command::Write { key, value } => {
            obj.field("op").string("write");
            obj.field("key").key(key);
            obj.field("value").value(value);
        }
        Command::Cas {
            key,
            from,
            to,
            create_if_not_exists,
        } => {
            obj.field("op").string("cas");
            obj.field("key").key(key);
            obj.field("from").value(from);
            obj.field("to").value(to);
            obj.field("create_if_not_exists")
                .bool(*create_if_not_exists);
        }
    }
    if let Some(request) = &entry.request {
        obj.field("origin").id(&request.origin);
        obj.field("request_id").u64(request.id);
    }
    obj.close();
}

// ---------------------------------------------------------- durable records

/// One durable record as a JSON object: `{"type": "hard_state", "term": 3,
/// "voted_for": "n2", "starts": 4}`, `{"type": "entry", "index": 7,
/// "entry": {...}}` with the entry as in `append_entries`, or `{"type":
/// "base", "index": 90, "term": 4}` first in a log compacted under a
/// snapshot.
pub fn encode_record(record: &Record, out: &mut String) {
    let mut obj = Obj::open(out);
    match record {
        Record::Base { index, term } => {
            obj.field("type").string("base");
            obj.field("index").u64(*index);
            obj.field("term").u64(*term);
        }
        Record::HardState(hard) => {
            obj.field("type").string("hard_state");
            obj.field("term").u64(hard.current_term);
            if let Some(vote) = &hard.voted_for {
                obj.field("voted_for").id(vote);
            }
            obj.field("starts").u64(hard.starts);
            if hard.recovering {
                obj.field("recovering").bool(true);
            }
            if hard.lost {
                obj.field("lost").bool(true);
            }
        }
        Record::Entry { index, entry } => {
            obj.field("type").string("entry");
            obj.field("index").u64(*index);
            obj.field("entry");
            encode_entry(Writer { out: obj.out }, entry);
        }
    }
    obj.close();
}

/// Reads what [`encode_record`] wrote; an error names the field.
pub fn decode_record(text: &str) -> Result<Record, String> {
    if let Some(record) = typed::record(text) {
        return Ok(record);
    }
    match serde_json::from_str(text) {
        Ok(json) => decode_record_tree(json, text),
        // A value beyond f64 is read from the text; a number beyond f64
        // anywhere else is the error it was.
        Err(e) => tree_beyond_f64(text, &e)
            .and_then(|json| decode_record_tree(json, text).ok())
            .ok_or_else(|| format!("not JSON: {e}")),
    }
}

fn decode_record_tree(json: Json, text: &str) -> Result<Record, String> {
    let Json::Object(top) = json else {
        return Err("not a JSON object".into());
    };
    let top = Fields::root(&top, text);
    match top.string("type")? {
        "base" => Ok(Record::Base {
            index: top.u64("index")?,
            term: top.u64("term")?,
        }),
        "hard_state" => Ok(Record::HardState(HardState {
            current_term: top.u64("term")?,
            voted_for: match top.get("voted_for") {
                None => None,
                Some(_) => Some(top.id("voted_for")?),
            },
            starts: top.u64("starts")?,
            recovering: top.opt_bool("recovering", false)?,
            lost: top.opt_bool("lost", false)?,
        })),
        "entry" => Ok(Record::Entry {
            index: top.u64("index")?,
            entry: entry(&top.object("entry")?)?,
        }),
        other => Err(format!(
            "{}: unknown record type {other:?}",
            top.path("type")
        )),
    }
}

/// An open JSON object being written; tracks whether a separator is due.
struct Obj<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, empty: true }
    }

    /// `name` is one of the codec's own field names: plain ASCII that
    /// needs no escaping, so it is copied as it is.
    fn field(&mut self, name: &str) -> Writer<'_> {
        debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        self.out.push_str(if self.empty { "\"" } else { ", \"" });
        self.empty = false;
        self.out.push_str(name);
        self.out.push_str("\": ");
        Writer { out: self.out }
    }

    /// A key from client data: escaped as any string.
    fn key(&mut self, key: &str) -> Writer<'_> {
        if !self.empty {
            self.out.push_str(", ");
        }
        self.empty = false;
        write_string(self.out, key);
        self.out.push_str(": ");
        Writer { out: self.out }
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// Writes one JSON value.
struct Writer<'a> {
    out: &'a mut String,
}

impl Writer<'_> {
    fn u64(self, n: u64) {
        write_u64(self.out, n);
    }

    fn bool(self, b: bool) {
        self.out.push_str(if b { "true" } else { "false" });
    }

    fn string(self, s: &str) {
        write_string(self.out, s);
    }

    fn id(self, id: &Id) {
        let (prefix, k) = match id {
            Id::Other(text) => return write_string(self.out, text),
            Id::Node(k) => ("\"n", k),
            Id::Client(k) => ("\"c", k),
        };
        self.out.push_str(prefix);
        write_u64(self.out, u64::from(*k));
        self.out.push('"');
    }

    fn key(self, key: &Key) {
        match key {
            Key::Int(k) => write_i64(self.out, *k),
            Key::Str(k) => write_string(self.out, k),
        }
    }

    fn value(self, value: &Value) {
        match value {
            Value::Json(json) => write_json(self.out, json),
            Value::Text(text) => self.out.push_str(text.as_str()),
        }
    }

    fn array<T>(self, items: &[T], mut each: impl FnMut(Writer<'_>, &T)) {
        self.out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            each(Writer { out: self.out }, item);
        }
        self.out.push(']');
    }
}

/// Writes any JSON value with the same separators as the envelope.
fn write_json(out: &mut String, value: &Json) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // Integers (what the workloads write) without `fmt`; serde_json
        // prints them the same way. Floats keep serde_json's own printing.
        Json::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => write_u64(out, u),
            (None, Some(i)) => write_i64(out, i),
            (None, None) => {
                let _ = write!(out, "{n}");
            }
        },
        Json::String(s) => write_string(out, s),
        Json::Array(items) => Writer { out }.array(items, |w, v| write_json(w.out, v)),
        Json::Object(map) => {
            let mut obj = Obj::open(out);
            for (k, v) in map {
                obj.key(k);
                write_json(obj.out, v);
            }
            obj.close();
        }
    }
}

fn write_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    write_u64(out, n.unsigned_abs());
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    // Most strings need no escaping: copy them whole.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------- decoding

/// Why a line could not become an envelope at all. Such lines are logged and
/// skipped: without `src` and `body` there is nobody to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    NotJson(String),
    NotEnvelope(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::NotJson(why) => write!(f, "not JSON: {why}"),
            DecodeError::NotEnvelope(why) => write!(f, "not a Maelstrom envelope: {why}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The longest prefix of `text` of at most `bytes_max` bytes that ends on
/// a character boundary (for quoting input in messages).
pub fn cut_at_char_boundary(text: &str, bytes_max: usize) -> &str {
    let end = (0..=text.len().min(bytes_max))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[..end]
}

/// Decodes one line. A well-formed envelope whose body is wrong still decodes,
/// to `Payload::Invalid`, so the node can answer with an error naming the field.
pub fn decode(line: &str) -> Result<Envelope, DecodeError> {
    decode_any(line)
}

fn decode_any(line: &str) -> Result<Envelope, DecodeError> {
    if let Some(envelope) = decode_typed(line) {
        return Ok(envelope);
    }
    let json: Json = match serde_json::from_str(line) {
        Ok(json) => json,
        Err(e) => {
            return beyond_f64(line, &e)
                .or_else(|| salvage(line, &e))
                .ok_or_else(|| DecodeError::NotJson(e.to_string()))
        }
    };
    decode_tree(json, line)
}

fn decode_tree(json: Json, line: &str) -> Result<Envelope, DecodeError> {
    let Json::Object(top) = json else {
        return Err(DecodeError::NotEnvelope("not a JSON object".into()));
    };
    let top = Fields::root(&top, line);
    let src = top.id("src").map_err(DecodeError::NotEnvelope)?;
    let dest = top.id("dest").map_err(DecodeError::NotEnvelope)?;
    let body = top.object("body").map_err(DecodeError::NotEnvelope)?;
    Ok(Envelope {
        src,
        dest,
        body: decode_body(&body),
    })
}

/// A line serde_json cannot make a tree of because a number is beyond f64
/// (`1e400`): that is fine in a client value, which is read from its text
/// anyway ([`Value::from_json_or_text`]). So the tree is made with each such
/// number replaced by a float (which sends its value to the text), and
/// kept only if the line then decodes to a valid message (the number was
/// in a value, or in a field the decoder ignores); otherwise it was in a
/// field that must be an integer, and `None` leaves the complaint to
/// [`salvage`].
fn beyond_f64(line: &str, error: &serde_json::Error) -> Option<Envelope> {
    let envelope = decode_tree(tree_beyond_f64(line, error)?, line).ok()?;
    (!matches!(envelope.body.payload, Payload::Invalid(_))).then_some(envelope)
}

/// The tree of `text` with every number beyond f64 replaced by `0.5`, if
/// that is what kept serde_json from reading it (`error`).
fn tree_beyond_f64(text: &str, error: &serde_json::Error) -> Option<Json> {
    if !error.to_string().starts_with("number out of range") {
        return None;
    }
    let mut readable = String::with_capacity(text.len());
    let mut copied = 0;
    for at in crate::data::number_tokens(text) {
        if text[at.clone()].parse::<f64>().is_ok_and(f64::is_infinite) {
            readable.push_str(&text[copied..at.start]);
            readable.push_str("0.5");
            copied = at.end;
        }
    }
    readable.push_str(&text[copied..]);
    serde_json::from_str(&readable).ok()
}

/// The fast path ([`typed`]): a well-formed common message, or `None` for
/// the general decoder to read and, if need be, complain about.
fn decode_typed(line: &str) -> Option<Envelope> {
    if client_typed::from_a_client(line) {
        if let Some(envelope) = decode_client_request(line) {
            return Some(envelope);
        }
    }
    let envelope: typed::Envelope<'_> = serde_json::from_str(line).ok()?;
    let body = &*envelope.body;
    let ids = (body.msg_id, body.in_reply_to);
    typed_envelope(&envelope.src, &envelope.dest, &body.kind, ids, &body)
}

/// The fastest paths: a client's request scanned ([`client_scan`]), or
/// read into a request's fields ([`client_typed`]).
fn decode_client_request(line: &str) -> Option<Envelope> {
    if let Some(scanned) = client_scan::scan(line) {
        let ids = (scanned.msg_id, scanned.in_reply_to);
        if let Some(envelope) =
            typed_envelope(scanned.src, scanned.dest, scanned.kind, ids, &&scanned)
        {
            return Some(envelope);
        }
    }
    let envelope: client_typed::Envelope<'_> = serde_json::from_str(line).ok()?;
    let body = &envelope.body;
    let ids = (body.msg_id, body.in_reply_to);
    typed_envelope(&envelope.src, &envelope.dest, &body.kind, ids, &body)
}

/// The envelope of a line a typed path read: `ids` are the body's
/// `msg_id` and `in_reply_to`, `body` the rest of its fields.
fn typed_envelope<S: Source>(
    src: &str,
    dest: &str,
    kind: &str,
    ids: (Option<u64>, Option<u64>),
    body: &S,
) -> Option<Envelope> {
    let payload = decode_payload(kind, body).ok()?;
    Some(Envelope {
        src: Id::parse(src),
        dest: Id::parse(dest),
        body: Body {
            msg_id: ids.0,
            in_reply_to: ids.1,
            payload,
        },
    })
}

/// A line that is JSON in form but holds what serde_json cannot read (a
/// number beyond f64, say) may still name its sender and `msg_id`: then the
/// sender gets error 12 rather than silence. Skipping the other values
/// never converts them, so only the fields read here must be readable.
fn salvage(line: &str, error: &serde_json::Error) -> Option<Envelope> {
    #[derive(serde::Deserialize)]
    struct Head {
        src: String,
        dest: String,
        body: HeadBody,
    }
    #[derive(serde::Deserialize)]
    struct HeadBody {
        #[serde(rename = "type")]
        type_name: Option<String>,
        msg_id: Option<u64>,
    }
    let head: Head = serde_json::from_str(line).ok()?;
    let msg_id = head.body.msg_id?;
    Some(Envelope {
        src: Id::parse(&head.src),
        dest: Id::parse(&head.dest),
        body: Body {
            msg_id: Some(msg_id),
            in_reply_to: None,
            payload: Payload::Invalid(Invalid {
                peer: head.body.type_name.as_deref().is_some_and(is_peer_type),
                type_name: head.body.type_name.unwrap_or_default(),
                code: ErrorCode::MALFORMED_REQUEST,
                text: format!("unreadable JSON: {error}"),
            }),
        },
    })
}

fn decode_body(body: &Fields<'_>) -> Body {
    let type_name = body.string("type");
    let msg_id = body.opt_u64("msg_id");
    let in_reply_to = body.opt_u64("in_reply_to");
    let decoded = match (&type_name, &msg_id, &in_reply_to) {
        (Ok(t), Ok(m), Ok(r)) => decode_payload(t, body).map(|payload| (*m, *r, payload)),
        (Err(why), _, _) | (_, Err(why), _) | (_, _, Err(why)) => Err(malformed(why.clone())),
    };
    match decoded {
        Ok((msg_id, in_reply_to, payload)) => Body {
            msg_id,
            in_reply_to,
            payload,
        },
        Err((code, text)) => Body {
            msg_id: msg_id.ok().flatten(),
            in_reply_to: in_reply_to.ok().flatten(),
            payload: Payload::Invalid(Invalid {
                peer: type_name.as_ref().is_ok_and(|t| is_peer_type(t)),
                type_name: type_name.unwrap_or_default().to_owned(),
                code,
                text,
            }),
        },
    }
}

type Failure = (ErrorCode, String);

fn malformed(text: String) -> Failure {
    (ErrorCode::MALFORMED_REQUEST, text)
}

fn decode_payload<S: Source>(type_name: &str, f: &S) -> Result<Payload, Failure> {
    if let Some(peer) = decode_peer(type_name, f) {
        return peer.map(Payload::Peer);
    }
    let payload = match type_name {
        "init" => Payload::Init {
            node_id: f.id("node_id").map_err(malformed)?,
            node_ids: f.ids("node_ids").map_err(malformed)?,
        },
        "init_ok" => Payload::InitOk,
        "write" | "cas" | "read" | "ryw_read" => Payload::Request(decode_op(type_name, f)?),
        "write_ok" | "cas_ok" | "read_ok" | "ryw_read_ok" | "error" => {
            Payload::Reply(decode_result(type_name, f)?)
        }
        other => {
            return Err((
                ErrorCode::NOT_SUPPORTED,
                format!("unknown message type {other:?}"),
            ))
        }
    };
    Ok(payload)
}

/// A message between members, if `type_name` names one.
fn decode_peer<S: Source>(type_name: &str, f: &S) -> Option<Result<PeerMsg, Failure>> {
    peer_message(type_name, f).transpose()
}

// Longer than 70 lines on purpose: one arm per node-to-node message type, so the wire format of each reads in one place.
fn peer_message<S: Source>(type_name: &str, f: &S) -> Result<Option<PeerMsg>, Failure> {
    Ok(Some(match type_name {
        "request_vote" => PeerMsg::RequestVote(RequestVote {
            term: f.u64("term").map_err(malformed)?,
            last_log_index: f.u64("last_log_index").map_err(malformed)?,
            last_log_term: f.u64("last_log_term").map_err(malformed)?,
            pre_vote: f.opt_bool("pre_vote", false).map_err(malformed)?,
        }),
        "request_vote_ok" => PeerMsg::RequestVoteOk(RequestVoteOk {
            term: f.u64("term").map_err(malformed)?,
            vote_granted: f.bool("vote_granted").map_err(malformed)?,
            pre_vote: f.opt_bool("pre_vote", false).map_err(malformed)?,
        }),
        "append_entries" => PeerMsg::AppendEntries(AppendEntries {
            term: f.u64("term").map_err(malformed)?,
            prev_log_index: f.u64("prev_log_index").map_err(malformed)?,
            prev_log_term: f.u64("prev_log_term").map_err(malformed)?,
            entries: f.entries("entries").map_err(malformed)?,
            leader_commit: f.u64("leader_commit").map_err(malformed)?,
            seq: f.u64("seq").map_err(malformed)?,
        }),
        "append_entries_ok" => PeerMsg::AppendEntriesOk(AppendEntriesOk {
            term: f.u64("term").map_err(malformed)?,
            success: f.bool("success").map_err(malformed)?,
            match_index: f.u64("match_index").map_err(malformed)?,
            next_index_hint: f.u64("next_index_hint").map_err(malformed)?,
            seq: f.u64("seq").map_err(malformed)?,
        }),
        "forward" => {
            let op = f.object("op").map_err(malformed)?;
            let op_type = op.string("type").map_err(malformed)?;
            let reason = match f.opt_str("reason").map_err(malformed)? {
                None => None,
                Some(text) => Some(Redirect::parse(text).ok_or_else(|| {
                    malformed(format!("field 'reason' has unknown value {text:?}"))
                })?),
            };
            PeerMsg::Forward(Forward {
                fwd_id: f.u64("fwd_id").map_err(malformed)?,
                op: decode_op(op_type, &op)?,
                reason,
            })
        }
        "forward_ok" => {
            let result = f.object("result").map_err(malformed)?;
            let result_type = result.string("type").map_err(malformed)?;
            // Both or neither: with one alone, the other is reported missing.
            let index = f.opt_u64("commit_index").map_err(malformed)?;
            let term = f.opt_u64("commit_term").map_err(malformed)?;
            let commit = match (index, term) {
                (None, None) => None,
                (Some(index), Some(term)) => Some(Committed { index, term }),
                (Some(index), None) => Some(Committed {
                    index,
                    term: f.u64("commit_term").map_err(malformed)?,
                }),
                (None, Some(term)) => Some(Committed {
                    index: f.u64("commit_index").map_err(malformed)?,
                    term,
                }),
            };
            PeerMsg::ForwardOk(ForwardOk {
                fwd_id: f.u64("fwd_id").map_err(malformed)?,
                result: decode_result(result_type, &result)?,
                commit,
            })
        }
        "commit_wanted" => PeerMsg::CommitWanted(CommitWanted {
            term: f.u64("term").map_err(malformed)?,
            index: f.u64("index").map_err(malformed)?,
        }),
        "commit_news" => PeerMsg::CommitNews(CommitNews {
            term: f.u64("term").map_err(malformed)?,
            commit_index: f.u64("commit_index").map_err(malformed)?,
            commit_term: f.u64("commit_term").map_err(malformed)?,
        }),
        "install_snapshot" => PeerMsg::InstallSnapshot(InstallSnapshot {
            term: f.u64("term").map_err(malformed)?,
            last_index: f.u64("last_index").map_err(malformed)?,
            last_term: f.u64("last_term").map_err(malformed)?,
            offset: f.u64("offset").map_err(malformed)?,
            data: f.string("data").map_err(malformed)?.to_owned(),
            done: f.bool("done").map_err(malformed)?,
            seq: f.u64("seq").map_err(malformed)?,
        }),
        "install_snapshot_ok" => PeerMsg::InstallSnapshotOk(InstallSnapshotOk {
            term: f.u64("term").map_err(malformed)?,
            last_index: f.u64("last_index").map_err(malformed)?,
            next_offset: f.u64("next_offset").map_err(malformed)?,
            done: f.bool("done").map_err(malformed)?,
            seq: f.u64("seq").map_err(malformed)?,
        }),
        "probe" => PeerMsg::Probe(Probe {
            incarnation: incarnation(f)?,
            last_log_index: f.u64("last_log_index").map_err(malformed)?,
        }),
        "probe_ok" => PeerMsg::ProbeOk(ProbeOk {
            incarnation: incarnation(f)?,
            term: f.u64("term").map_err(malformed)?,
            voted_for: match f.opt_str("voted_for").map_err(malformed)? {
                None => None,
                Some(_) => Some(f.id("voted_for").map_err(malformed)?),
            },
            last_log_index: f.u64("last_log_index").map_err(malformed)?,
            last_log_term: f.u64("last_log_term").map_err(malformed)?,
            lost: f.opt_bool("lost", false).map_err(malformed)?,
        }),
        _ => return Ok(None),
    }))
}

/// A probe's `incarnation`: the high half of an operation id, so at most 2^32 - 1.
fn incarnation<S: Source>(f: &S) -> Result<u32, Failure> {
    let n = f.u64("incarnation").map_err(malformed)?;
    u32::try_from(n).map_err(|_| {
        malformed(format!(
            "{}: {n} is out of range (at most {})",
            f.path("incarnation"),
            u32::MAX
        ))
    })
}

/// Whether `type_name` names a message only members send each other (the
/// decoder recognises it, even with no fields to decode).
fn is_peer_type(type_name: &str) -> bool {
    decode_peer(type_name, &Fields::root(&Map::new(), "{}")).is_some()
}

fn decode_op<S: Source>(type_name: &str, f: &S) -> Result<ClientOp, Failure> {
    let op = match type_name {
        "write" => ClientOp::Write {
            key: f.key("key").map_err(malformed)?,
            value: f.value("value").map_err(malformed)?,
        },
        "cas" => ClientOp::Cas {
            key: f.key("key").map_err(malformed)?,
            from: f.value("from").map_err(malformed)?,
            to: f.value("to").map_err(malformed)?,
            create_if_not_exists: f
                .opt_bool("create_if_not_exists", false)
                .map_err(malformed)?,
        },
        "read" => ClientOp::Read {
            key: f.key("key").map_err(malformed)?,
        },
        "ryw_read" => ClientOp::RywRead {
            key: f.key("key").map_err(malformed)?,
            last_write_index: f
                .opt_u64("last_write_index")
                .map_err(malformed)?
                .unwrap_or(0),
            prefer_follower: f.opt_bool("prefer_follower", true).map_err(malformed)?,
        },
        other => {
            return Err((
                ErrorCode::NOT_SUPPORTED,
                format!("{}: unknown operation type {other:?}", f.path("type")),
            ))
        }
    };
    Ok(op)
}

fn decode_result<S: Source>(type_name: &str, f: &S) -> Result<OpResult, Failure> {
    let result = match type_name {
        "write_ok" => OpResult::WriteOk {
            commit_index: f.u64("commit_index").map_err(malformed)?,
        },
        "cas_ok" => OpResult::CasOk {
            commit_index: f.u64("commit_index").map_err(malformed)?,
        },
        "read_ok" => OpResult::ReadOk {
            value: f.value("value").map_err(malformed)?,
        },
        "ryw_read_ok" => {
            let how_and_index = if let Some(text) = f.opt_str("reason").map_err(malformed)? {
                let reason = Redirect::parse(text).ok_or_else(|| {
                    malformed(format!("{}: unknown value {text:?}", f.path("reason")))
                })?;
                (
                    Served::Redirected { reason },
                    f.u64("leader_applied_index").map_err(malformed)?,
                )
            } else {
                (
                    Served::Locally {
                        waited_ms: f.u64("waited_ms").map_err(malformed)?,
                    },
                    f.u64("follower_applied_index").map_err(malformed)?,
                )
            };
            OpResult::RywReadOk {
                value: f.value("value").map_err(malformed)?,
                served_by: f.id("served_by").map_err(malformed)?,
                applied_index: how_and_index.1,
                how: how_and_index.0,
            }
        }
        "error" => OpResult::Error {
            code: ErrorCode(f.u64("code").map_err(malformed)?),
            text: f.opt_string("text").map_err(malformed)?.unwrap_or_default(),
        },
        other => {
            return Err(malformed(format!(
                "{}: {other:?} is not a reply type",
                f.path("type")
            )))
        }
    };
    Ok(result)
}

/// Typed access to an object's fields; every error names the field by its path.
struct Fields<'a> {
    obj: &'a Map<String, Json>,
    /// Where this object sits, walked only when an error needs the path.
    at: Place<'a>,
}

#[derive(Clone, Copy)]
enum Place<'a> {
    /// The object read from this JSON text.
    Root(&'a str),
    Field(&'a Fields<'a>, &'a str),
    Item(&'a Fields<'a>, &'a str, usize),
}

impl<'a> Fields<'a> {
    fn root(obj: &'a Map<String, Json>, text: &'a str) -> Fields<'a> {
        Fields {
            obj,
            at: Place::Root(text),
        }
    }

    /// The JSON text of field `name`, found by walking down from the
    /// root's text: for the rare value whose number serde_json may have
    /// changed in the tree ([`Value::from_json_or_text`]).
    fn text_of(&self, name: &str) -> Option<&'a str> {
        let text = match self.at {
            Place::Root(text) => text,
            Place::Field(parent, field) => parent.text_of(field)?,
            Place::Item(parent, field, i) => {
                let items: Vec<&RawValue> = serde_json::from_str(parent.text_of(field)?).ok()?;
                items.get(i)?.get()
            }
        };
        let fields: BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
        fields.get(name).map(|raw| raw.get())
    }

    fn write_prefix(&self, out: &mut String) {
        match self.at {
            Place::Root(_) => {}
            Place::Field(parent, name) => {
                parent.write_prefix(out);
                out.push_str(name);
                out.push('.');
            }
            Place::Item(parent, name, i) => {
                parent.write_prefix(out);
                let _ = write!(out, "{name}[{i}].");
            }
        }
    }

    fn path(&self, name: &str) -> String {
        let mut out = String::from("field '");
        self.write_prefix(&mut out);
        out.push_str(name);
        out.push('\'');
        out
    }

    fn get(&self, name: &str) -> Option<&'a Json> {
        self.obj.get(name)
    }

    fn require(&self, name: &str) -> Result<&'a Json, String> {
        self.get(name)
            .ok_or_else(|| format!("missing {}", self.path(name)))
    }

    fn wrong_type(&self, name: &str, expected: &str, got: &Json) -> String {
        let mut shown = got.to_string();
        if shown.len() > 40 {
            shown = format!("{}...", cut_at_char_boundary(&shown, 40));
        }
        format!("{} must be {expected}, got {shown}", self.path(name))
    }

    fn u64(&self, name: &str) -> Result<u64, String> {
        let v = self.require(name)?;
        v.as_u64()
            .ok_or_else(|| self.wrong_type(name, "a non-negative integer", v))
    }

    fn opt_u64(&self, name: &str) -> Result<Option<u64>, String> {
        match self.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(_) => self.u64(name).map(Some),
        }
    }

    fn bool(&self, name: &str) -> Result<bool, String> {
        let v = self.require(name)?;
        v.as_bool()
            .ok_or_else(|| self.wrong_type(name, "true or false", v))
    }

    fn opt_bool(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.get(name) {
            None => Ok(default),
            Some(_) => self.bool(name),
        }
    }

    fn string(&self, name: &str) -> Result<&'a str, String> {
        let v = self.require(name)?;
        v.as_str()
            .ok_or_else(|| self.wrong_type(name, "a string", v))
    }

    fn id(&self, name: &str) -> Result<Id, String> {
        self.string(name).map(Id::parse)
    }

    fn ids(&self, name: &str) -> Result<Vec<Id>, String> {
        let v = self.require(name)?;
        let items = v
            .as_array()
            .ok_or_else(|| self.wrong_type(name, "an array of node ids", v))?;
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(Id::parse)
                    .ok_or_else(|| self.wrong_type(name, "an array of strings", v))
            })
            .collect()
    }

    fn key(&self, name: &str) -> Result<Key, String> {
        let v = self.require(name)?;
        match v {
            Json::String(s) => Ok(Key::Str(s.clone())),
            Json::Number(n) if n.as_i64().is_some() => Ok(Key::Int(n.as_i64().unwrap_or_default())),
            other => Err(self.wrong_type(name, "a string or an integer", other)),
        }
    }

    fn value(&self, name: &str) -> Result<Value, String> {
        let json = self.require(name)?;
        Value::from_json_or_text(json, || self.text_of(name))
            .map_err(|why| format!("{}: {why}", self.path(name)))
    }

    fn object<'b>(&'b self, name: &'b str) -> Result<Fields<'b>, String> {
        let v = self.require(name)?;
        let obj = v
            .as_object()
            .ok_or_else(|| self.wrong_type(name, "an object", v))?;
        Ok(Fields {
            obj,
            at: Place::Field(self, name),
        })
    }

    fn entries(&self, name: &str) -> Result<Vec<Entry>, String> {
        let v = self.require(name)?;
        let items = v
            .as_array()
            .ok_or_else(|| self.wrong_type(name, "an array of entries", v))?;
        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let obj = item
                .as_object()
                .ok_or_else(|| self.wrong_type(name, "an array of objects", v))?;
            let e = Fields {
                obj,
                at: Place::Item(self, name, i),
            };
            entries.push(entry(&e)?);
        }
        Ok(entries)
    }
}

impl<'a> Source for Fields<'a> {
    type Obj<'b>
        = Fields<'b>
    where
        Self: 'b;

    fn path(&self, name: &str) -> String {
        Fields::path(self, name)
    }
    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    fn u64(&self, name: &str) -> Result<u64, String> {
        Fields::u64(self, name)
    }
    fn opt_u64(&self, name: &str) -> Result<Option<u64>, String> {
        Fields::opt_u64(self, name)
    }
    fn bool(&self, name: &str) -> Result<bool, String> {
        Fields::bool(self, name)
    }
    fn opt_bool(&self, name: &str, default: bool) -> Result<bool, String> {
        Fields::opt_bool(self, name, default)
    }
    fn string(&self, name: &str) -> Result<&str, String> {
        Fields::string(self, name)
    }
    fn ids(&self, name: &str) -> Result<Vec<Id>, String> {
        Fields::ids(self, name)
    }
    fn key(&self, name: &str) -> Result<Key, String> {
        Fields::key(self, name)
    }
    fn value(&self, name: &str) -> Result<Value, String> {
        Fields::value(self, name)
    }
    fn object<'b>(&'b self, name: &'b str) -> Result<Fields<'b>, String> {
        Fields::object(self, name)
    }
    fn entries(&self, name: &str) -> Result<Vec<Entry>, String> {
        Fields::entries(self, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_request_takes_the_fastest_path_and_anything_else_does_not() {
        let requests = [
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":"x","value":[1,2.50]}}"#,
            r#"{"src": "c7", "dest": "n2", "body": {"type": "ryw_read", "msg_id": 3, "key": 4, "last_write_index": 9}}"#,
            r#"{"src":"c2","dest":"n1","body":{"type":"cas","msg_id":1,"key":"k","from":null,"to":"v","create_if_not_exists":true}}"#,
        ];
        for line in requests {
            let fast = decode_client_request(line).expect(line);
            let general = decode_tree(serde_json::from_str(line).expect("JSON"), line).expect(line);
            assert_eq!(fast, general, "{line}");
        }
        let others = [
            // init has fields a request has not; a reply is no request.
            r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"write_ok","in_reply_to":1,"commit_index":3}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":"x","value":1,"extra":0}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":"x","key":"y","value":1}}"#,
        ];
        for line in others {
            assert_eq!(decode_client_request(line), None, "{line}");
        }
        assert!(!client_typed::from_a_client(
            r#"{"src":"n1","dest":"n2","body":{}}"#
        ));
    }

    /// The scan's envelope for `line`, if it reads it.
    fn scanned(line: &str) -> Option<Envelope> {
        let s = client_scan::scan(line)?;
        typed_envelope(s.src, s.dest, s.kind, (s.msg_id, s.in_reply_to), &&s)
    }

    #[test]
    fn the_scan_reads_the_common_requests_and_gives_up_on_the_rest() {
        let common = [
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":"k001","value":"k001"}}"#,
            r#"{"src": "c7", "dest": "n2", "body": {"type": "ryw_read", "msg_id": 3, "key": 4, "last_write_index": 9, "prefer_follower": false}}"#,
            r#"{"src":"c2","dest":"n1","body":{"type":"cas","msg_id":1,"key":-5,"from":null,"to":-9,"create_if_not_exists":true}}"#,
            " {\"body\":{\"key\":1,\"type\":\"read\",\"msg_id\":0},\n\"dest\":\"n1\",\"src\":\"c1\"}\t",
            // Spaces and any other printable byte inside strings.
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":"a key","value":"~ é !"}}"#,
        ];
        for line in common {
            let general = decode_tree(serde_json::from_str(line).expect("JSON"), line);
            assert_eq!(scanned(line), Some(general.expect(line)), "{line}");
        }
        let others = [
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":"x","value":[1,2.50]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":"x\n","value":1}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":-0,"value":1}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":1,"value":-0}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":1,"value":1.0}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":null,"key":1,"value":1}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":1,"key":2,"value":1}}"#,
            r#"{"src":"c1","dest":"n1","id":4,"body":{"type":"write","msg_id":2,"key":1,"value":1}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":2,"key":1,"value":1}} x"#,
        ];
        for line in others {
            assert!(client_scan::scan(line).is_none(), "{line}");
        }
    }

    /// Lines near the scan's shape, drawn from a small generator: every
    /// one the scan reads, it reads to what the general decoder reads.
    #[test]
    fn whatever_the_scan_reads_the_general_decoder_reads_the_same() {
        // Each field's forms: those the scan reads first, then the rest.
        let keys = [
            "0",
            "-1",
            "\"k\"",
            "\"\"",
            "9223372036854775807",
            "-9223372036854775808",
            "\"é\"",
            "9223372036854775808",
            "-9223372036854775809",
            "-0",
            "\"k\\n\"",
            "1.0",
            "1e2",
            "null",
            "01",
            // Raw control characters, which JSON forbids inside a string.
            "\"k\u{1}\"",
            "\"tab\there\"",
            "\"\u{1f}\"",
        ];
        let values = [
            "7",
            "-7",
            "0",
            "18446744073709551615",
            "\"v\"",
            "true",
            "false",
            "null",
            "-0",
            "18446744073709551616",
            "\"v\\\"q\"",
            "[1]",
            "{\"a\":1}",
            "1.5",
            "01",
            "-",
            "tru",
            "nul",
            "\"v\u{1}\"",
            "\"new\nline\"",
        ];
        let numbers = [
            "5",
            "0",
            "18446744073709551615",
            "-1",
            "null",
            "1.0",
            "18446744073709551616",
            "5e0",
            "\"5\"",
        ];
        let flags = ["true", "false", "null", "1"];
        let types = ["write", "cas", "read", "ryw_read", "txn", "write_ok", ""];
        let spaces = ["", " ", "\n\t ", "  "];
        let state = std::cell::Cell::new(0x2545_f491_4f6c_dd1d_u64);
        let draw = |n: usize| {
            let mut x = state.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            state.set(x);
            (x % n as u64) as usize
        };
        // Mostly one of the first `good` forms, sometimes any.
        let pick = |forms: &[&'static str], good: usize| -> &'static str {
            if draw(5) == 0 {
                forms[draw(forms.len())]
            } else {
                forms[draw(good)]
            }
        };
        let (mut read, mut lines) = (0, 0);
        for _ in 0..20_000 {
            let sp = spaces[draw(spaces.len())];
            let mut fields = vec![format!("\"type\":{sp}\"{}\"", pick(&types, 4))];
            let optional = [
                ("msg_id", pick(&numbers, 3)),
                ("key", pick(&keys, 7)),
                ("value", pick(&values, 8)),
                ("from", pick(&values, 8)),
                ("to", pick(&values, 8)),
                ("last_write_index", pick(&numbers, 3)),
                ("prefer_follower", pick(&flags, 2)),
                ("create_if_not_exists", pick(&flags, 2)),
                ("in_reply_to", pick(&numbers, 3)),
            ];
            for (name, value) in optional {
                if draw(2) == 0 {
                    fields.push(format!("\"{name}\":{sp}{value}"));
                }
            }
            for (name, value) in [("extra", "1"), ("type", "\"write\""), ("key", "3")] {
                if draw(12) == 0 {
                    fields.push(format!("\"{name}\":{sp}{value}"));
                }
            }
            // Shuffle the body's fields.
            for k in (1..fields.len()).rev() {
                fields.swap(k, draw(k + 1));
            }
            let body = format!("{{{sp}{}{sp}}}", fields.join(&format!(",{sp}")));
            let mut top = vec![
                format!("\"src\":{sp}\"c{}\"", draw(3)),
                format!("\"dest\":{sp}\"n1\""),
                format!("\"body\":{sp}{body}"),
            ];
            if draw(10) == 0 {
                top.push("\"id\":7".into());
            }
            for k in (1..top.len()).rev() {
                top.swap(k, draw(k + 1));
            }
            let line = format!("{sp}{{{}}}{sp}", top.join(&format!(",{sp}")));
            lines += 1;
            let Some(fast) = scanned(&line) else { continue };
            read += 1;
            let general = serde_json::from_str(&line)
                .map_err(|e| e.to_string())
                .and_then(|json| decode_tree(json, &line).map_err(|e| format!("{e:?}")));
            assert_eq!(Ok(&fast), general.as_ref(), "{line}");
            // And the serde fast path agrees where it reads the line.
            if let Some(typed) = decode_typed(&line) {
                assert_eq!(typed, fast, "{line}");
            }
        }
        assert!(read * 10 > lines, "the scan read {read} of {lines} lines");
    }

    fn body(line: &str) -> Body {
        decode(line).expect("an envelope").body
    }

    fn request(fields: &str) -> String {
        format!(r#"{{"src":"c1","dest":"n1","body":{{"msg_id":5,{fields}}}}}"#)
    }

    /// Values serde_json alone would change (beyond 64 bits, beyond f64,
    /// spelled unlike their print, negative zero), with how each is stored.
    const EXACT_VALUES: [(&str, &str); 8] = [
        ("18446744073709551616", "18446744073709551616"),
        ("-9223372036854775809", "-9223372036854775809"),
        ("1e400", "1e400"),
        ("1e2", "1e2"),
        ("2.50", "2.50"),
        ("-0", "-0"),
        (
            r#"[1, {"x": 123456789012345678901234567890}]"#,
            r#"[1,{"x":123456789012345678901234567890}]"#,
        ),
        // Common values stay as serde_json holds them.
        (
            r#"{"a":[2.5,"1e2 \" 3.10"]}"#,
            r#"{"a": [2.5, "1e2 \" 3.10"]}"#,
        ),
    ];

    // A value is kept exactly as sent, whichever decoder reads it: the
    // typed one, or the general one (here for a line with a field it does
    // not know, which the typed decoder leaves to it).
    #[test]
    fn values_are_kept_exactly_as_sent_by_both_decoders() {
        for (sent, stored) in EXACT_VALUES {
            for extra in ["", r#""unknown":1,"#] {
                let line = request(&format!(
                    r#"{extra}"type":"write","key":"q","value":{sent}"#
                ));
                let Payload::Request(ClientOp::Write { value, .. }) = body(&line).payload else {
                    panic!("{line}: refused");
                };
                assert_eq!(value, Value::parse(sent).expect("JSON"), "{line}");
                let mut out = String::new();
                Writer { out: &mut out }.value(&value);
                assert_eq!(out, stored, "{line}: comes back as sent");
            }
        }
    }

    // Peers and the disk carry client values too: a log entry keeps them
    // exactly through `append_entries` and through a durable record.
    #[test]
    fn entries_keep_values_exactly_on_the_wire_and_on_disk() {
        for (sent, _) in EXACT_VALUES {
            let value = Value::parse(sent).expect("JSON");
            let entry = Entry {
                term: 2,
                command: Command::Cas {
                    key: Key::Str("q".into()),
                    from: value.clone(),
                    to: value.clone(),
                    create_if_not_exists: false,
                },
                request: None,
            };
            let mut text = String::new();
            encode_record(
                &Record::Entry {
                    index: 3,
                    entry: entry.clone(),
                },
                &mut text,
            );
            let Ok(Record::Entry { entry: read, .. }) = decode_record(&text) else {
                panic!("{text}: not read back");
            };
            assert_eq!(read, entry, "{text}");
            // The general record decoder too (an unknown field sends it there).
            let general = text.replacen('{', r#"{"unknown": 1, "#, 1);
            let Ok(Record::Entry { entry: read, .. }) = decode_record(&general) else {
                panic!("{general}: not read back");
            };
            assert_eq!(read, entry, "{general}");
            let envelope = Envelope {
                src: Id::parse("n1"),
                dest: Id::parse("n2"),
                body: Body {
                    msg_id: None,
                    in_reply_to: None,
                    payload: Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
                        term: 2,
                        prev_log_index: 2,
                        prev_log_term: 1,
                        entries: vec![entry.clone()],
                        leader_commit: 1,
                        seq: 1,
                    })),
                },
            };
            let line = encode(&envelope);
            assert_eq!(decode(&line).expect("decodes"), envelope, "{line}");
        }
    }

    // Durable records are read by the typed fast path, both kinds (the
    // general decoder would read them too, only slower).
    #[test]
    fn records_the_store_writes_take_the_fast_path() {
        let hard = Record::HardState(HardState {
            current_term: 3,
            voted_for: Some(Id::parse("n2")),
            starts: 4,
            recovering: true,
            lost: false,
        });
        let entry = Record::Entry {
            index: 7,
            entry: Entry {
                term: 3,
                command: Command::Write {
                    key: Key::Int(1),
                    value: Value::from(9u64),
                },
                request: None,
            },
        };
        for record in [hard, entry] {
            let mut text = String::new();
            encode_record(&record, &mut text);
            assert_eq!(typed::record(&text), Some(record.clone()), "{text}");
        }
    }

    // A malformed message says whether it claimed to come from a member
    // (a node-to-node type) or from a client: the node answers the two
    // differently.
    #[test]
    fn a_malformed_message_knows_whether_it_was_a_peer_type() {
        for (fields, peer) in [
            (r#""type":"append_entries","term":"x""#, true),
            (r#""type":"request_vote_ok","term":1"#, true),
            (r#""type":"write","key":[1],"value":1"#, false),
            (
                r#""type":"ryw_read","key":"k","last_write_index":-1"#,
                false,
            ),
        ] {
            match body(&request(fields)).payload {
                Payload::Invalid(invalid) => assert_eq!(invalid.peer, peer, "{fields}"),
                other => panic!("{fields}: decoded as {other:?}"),
            }
        }
    }

    fn invalid_text(line: &str) -> (ErrorCode, String) {
        match body(line).payload {
            Payload::Invalid(Invalid { code, text, .. }) => (code, text),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_number_beyond_f64_is_answered_with_error_12_when_the_sender_can_be_read() {
        let line = r#"{"src": "c1", "dest": "n1", "body": {"type": "ryw_read", "msg_id": 2, "key": "x", "last_write_index": 1e400}}"#;
        let envelope = decode(line).expect("sender and msg_id are readable");
        assert_eq!(envelope.src, Id::parse("c1"));
        assert_eq!(envelope.body.msg_id, Some(2));
        let (code, text) = invalid_text(line);
        assert_eq!(code, ErrorCode::MALFORMED_REQUEST);
        assert!(text.contains("out of range"), "{text}");
        // Without a readable msg_id there is nothing to answer.
        let unanswerable =
            r#"{"src": "c1", "dest": "n1", "body": {"type": "read", "msg_id": 1e400}}"#;
        assert!(matches!(decode(unanswerable), Err(DecodeError::NotJson(_))));
    }

    #[test]
    fn numbers_print_as_serde_json_prints_them() {
        let numbers = [
            "0",
            "7",
            "-5",
            "18446744073709551615",
            "-9223372036854775808",
            "9223372036854775807",
            "1.5",
            "-0.25",
            "1e300",
        ];
        for text in numbers {
            let value: Json = serde_json::from_str(text).expect("a JSON number");
            let mut out = String::new();
            write_json(&mut out, &value);
            assert_eq!(out, value.to_string(), "{text}");
        }
        for k in [i64::MIN, -1, 0, 42, i64::MAX] {
            let mut out = String::new();
            Writer { out: &mut out }.key(&Key::Int(k));
            assert_eq!(out, k.to_string());
        }
    }

    #[test]
    fn init_ok_is_printed_exactly_like_the_seed_sample() {
        let envelope = Envelope {
            src: Id::parse("n1"),
            dest: Id::parse("c0"),
            body: Body {
                msg_id: Some(0),
                in_reply_to: Some(1),
                payload: Payload::InitOk,
            },
        };
        assert_eq!(
            encode(&envelope),
            r#"{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}"#
        );
    }

    #[test]
    fn ryw_read_ok_fields_follow_the_guide_order() {
        let reply = |how| Envelope {
            src: Id::parse("n2"),
            dest: Id::parse("c1"),
            body: Body {
                msg_id: Some(5),
                in_reply_to: Some(2),
                payload: Payload::Reply(OpResult::RywReadOk {
                    value: "new".into(),
                    served_by: Id::parse("n2"),
                    applied_index: 10,
                    how,
                }),
            },
        };
        assert_eq!(
            encode(&reply(Served::Locally { waited_ms: 50 })),
            r#"{"src": "n2", "dest": "c1", "body": {"type": "ryw_read_ok", "in_reply_to": 2, "value": "new", "served_by": "n2", "follower_applied_index": 10, "waited_ms": 50, "msg_id": 5}}"#
        );
        let redirected = encode(&reply(Served::Redirected {
            reason: Redirect::FollowerBehind,
        }));
        assert!(redirected.contains(r#""reason": "follower_behind_redirected_to_leader""#));
    }

    #[test]
    fn every_payload_survives_an_encode_decode_round_trip() {
        let key = Key::Str("k\"\n".into());
        let value = Value::from(serde_json::json!({"a": [1, 2.5, null, true], "b": "é"}));
        let payloads = vec![
            Payload::Init {
                node_id: Id::parse("n1"),
                node_ids: vec![Id::parse("n1"), Id::parse("n2")],
            },
            Payload::InitOk,
            Payload::Request(ClientOp::Write {
                key: Key::Int(-3),
                value: value.clone(),
            }),
            Payload::Request(ClientOp::Cas {
                key: key.clone(),
                from: 1.into(),
                to: 2.into(),
                create_if_not_exists: true,
            }),
            Payload::Request(ClientOp::RywRead {
                key: key.clone(),
                last_write_index: 9,
                prefer_follower: false,
            }),
            Payload::Reply(OpResult::error(ErrorCode::PRECONDITION_FAILED, "no")),
            Payload::Peer(PeerMsg::RequestVote(RequestVote {
                term: 3,
                last_log_index: 4,
                last_log_term: 2,
                pre_vote: true,
            })),
            Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
                term: 3,
                prev_log_index: 1,
                prev_log_term: 1,
                entries: vec![
                    Entry {
                        term: 3,
                        command: Command::Noop,
                        request: None,
                    },
                    Entry {
                        term: 3,
                        command: Command::Write {
                            key: key.clone(),
                            value: value.clone(),
                        },
                        request: Some(RequestId {
                            origin: Id::parse("n2"),
                            id: 1 << 32,
                        }),
                    },
                ],
                leader_commit: 1,
                seq: 7,
            })),
            Payload::Peer(PeerMsg::AppendEntriesOk(AppendEntriesOk {
                term: 3,
                success: false,
                match_index: 0,
                next_index_hint: 2,
                seq: 7,
            })),
            Payload::Peer(PeerMsg::Forward(Forward {
                fwd_id: 4,
                op: ClientOp::Read { key: key.clone() },
                reason: Some(Redirect::LeaderRequested),
            })),
            Payload::Peer(PeerMsg::ForwardOk(ForwardOk {
                fwd_id: 4,
                result: OpResult::RywReadOk {
                    value,
                    served_by: Id::parse("n3"),
                    applied_index: 8,
                    how: Served::Redirected {
                        reason: Redirect::FollowerBehind,
                    },
                },
                commit: Some(Committed { index: 8, term: 2 }),
            })),
            Payload::Peer(PeerMsg::CommitWanted(CommitWanted { term: 3, index: 9 })),
            Payload::Peer(PeerMsg::CommitNews(CommitNews {
                term: 3,
                commit_index: 9,
                commit_term: 2,
            })),
        ];
        for payload in payloads {
            let envelope = Envelope {
                src: Id::parse("n1"),
                dest: Id::parse("weird id"),
                body: Body {
                    msg_id: Some(1),
                    in_reply_to: None,
                    payload,
                },
            };
            let line = encode(&envelope);
            assert!(
                decode_typed(&line).is_some(),
                "the fast path reads every message the node writes: {line}"
            );
            assert_eq!(decode(&line), Ok(envelope), "{line}");
        }
    }

    #[test]
    fn ryw_read_defaults_token_zero_and_prefer_follower_true() {
        let line = r#"{"src":"c1","dest":"n1","body":{"type":"ryw_read","msg_id":2,"key":"x"}}"#;
        assert_eq!(
            body(line).payload,
            Payload::Request(ClientOp::RywRead {
                key: Key::Str("x".into()),
                last_write_index: 0,
                prefer_follower: true
            })
        );
    }

    #[test]
    fn bad_fields_decode_to_errors_that_name_the_field() {
        let cases = [
            (
                r#"{"type":"write","msg_id":1,"value":1}"#,
                "missing field 'body.key'",
            ),
            (
                r#"{"type":"write","msg_id":1,"key":1.5,"value":1}"#,
                "field 'body.key' must be a string or an integer",
            ),
            (
                r#"{"type":"ryw_read","msg_id":1,"key":"x","last_write_index":"5"}"#,
                "field 'body.last_write_index' must be a non-negative integer",
            ),
            (
                r#"{"type":"ryw_read","msg_id":1,"key":"x","last_write_index":1e30}"#,
                "field 'body.last_write_index'",
            ),
            (
                r#"{"type":"ryw_read","msg_id":1,"key":"x","prefer_follower":"yes"}"#,
                "field 'body.prefer_follower' must be true or false",
            ),
            (
                r#"{"type":"init","msg_id":1,"node_id":"n1","node_ids":"n1"}"#,
                "field 'body.node_ids'",
            ),
            (r#"{"msg_id":1}"#, "missing field 'body.type'"),
            (
                r#"{"type":"forward_ok","msg_id":1,"fwd_id":1,"result":{"type":"write_ok","commit_index":3},"commit_index":3}"#,
                "missing field 'body.commit_term'",
            ),
            (
                r#"{"type":"forward_ok","msg_id":1,"fwd_id":1,"result":{"type":"write_ok","commit_index":3},"commit_term":"2","commit_index":3}"#,
                "field 'body.commit_term' must be a non-negative integer",
            ),
        ];
        for (line_body, expected) in cases {
            let line = format!(r#"{{"src":"c1","dest":"n1","body":{line_body}}}"#);
            let (code, text) = invalid_text(&line);
            assert_eq!(code, ErrorCode::MALFORMED_REQUEST, "{line}");
            assert!(
                text.contains(expected),
                "{text:?} should contain {expected:?}"
            );
            assert_eq!(
                body(&line).msg_id,
                Some(1),
                "the error can still answer msg_id"
            );
        }
    }

    #[test]
    fn unknown_type_is_not_supported() {
        let line = r#"{"src":"c1","dest":"n1","body":{"type":"txn","msg_id":3}}"#;
        let (code, text) = invalid_text(line);
        assert_eq!(code, ErrorCode::NOT_SUPPORTED);
        assert!(text.contains("txn"));
    }

    #[test]
    fn lines_that_are_not_envelopes_are_rejected_whole() {
        for line in [
            "",
            "nope",
            "[1]",
            r#"{"src":"c1"}"#,
            r#"{"src":1,"dest":"n1","body":{}}"#,
            r#"{"src":"c1","dest":"n1","body":[]}"#,
        ] {
            assert!(decode(line).is_err(), "{line:?}");
        }
        let deep = "[".repeat(10_000);
        assert!(matches!(decode(&deep), Err(DecodeError::NotJson(_))));
    }
}
