//! The fastest path of all, for a client's request in its common shape: a
//! scan of the line's bytes, with no deserializer. A request is most of
//! what a node reads, and serde's machinery cost more than everything else
//! the node does with it.
//!
//! It reads a strict subset of JSON and gives up (`None`) on anything
//! else, leaving the line to the serde paths ([`super::client_typed`],
//! then the general decoder), which read it or say what is wrong with it:
//!
//! - the envelope's fields `src`, `dest` and `body`, each once, in any
//!   order; the body's fields those a request has (as in `client_typed`),
//!   each once;
//! - strings without escapes or control characters;
//! - integers as JSON writes them (`0`, `17`, `-3`), within 64 bits;
//!   a `key` within `i64`; a `value`, `from` or `to` that is such an
//!   integer, such a string, `true`, `false` or `null`;
//! - JSON whitespace between tokens, and nothing after the envelope.
//!
//! So whatever it reads, it reads to the values the general decoder would
//! (the tests hold it to that on every line of a generated set and of the
//! decoder's golden corpus).

use std::cell::Cell;

use super::source::{absent, need, RequestFields};
use crate::data::{Key, Value};

/// A request as the scan read it. The key and values are handed over
/// once, not copied (`Cell::take`: the decoding functions ask for each
/// once; a second ask finds it absent and the line takes the serde path).
#[derive(Default)]
pub(super) struct Scanned<'a> {
    pub(super) src: &'a str,
    pub(super) dest: &'a str,
    pub(super) kind: &'a str,
    pub(super) msg_id: Option<u64>,
    pub(super) in_reply_to: Option<u64>,
    key: Cell<Option<Key>>,
    value: Cell<Option<Value>>,
    from: Cell<Option<Value>>,
    to: Cell<Option<Value>>,
    last_write_index: Option<u64>,
    prefer_follower: Option<bool>,
    create_if_not_exists: Option<bool>,
}

/// The request on `line`, if it has the shape this scan reads.
pub(super) fn scan(line: &str) -> Option<Scanned<'_>> {
    let mut s = Scanner {
        bytes: line.as_bytes(),
        text: line,
        at: 0,
    };
    let mut out = Scanned::default();
    let (mut src, mut dest, mut body) = (false, false, false);
    s.object(|s, name| {
        match name {
            "src" if !src => {
                src = true;
                out.src = s.string()?;
            }
            "dest" if !dest => {
                dest = true;
                out.dest = s.string()?;
            }
            "body" if !body => {
                body = true;
                s.object(|s, field| body_field(s, field, &mut out))?;
            }
            _ => return None,
        }
        Some(())
    })?;
    s.skip_whitespace();
    (src && dest && body && s.at == s.bytes.len() && !out.kind.is_empty()).then_some(out)
}

/// One field of the body; each at most once.
fn body_field<'a>(s: &mut Scanner<'a>, name: &str, out: &mut Scanned<'a>) -> Option<()> {
    fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
        match slot {
            Some(_) => None,
            None => {
                *slot = Some(value);
                Some(())
            }
        }
    }
    match name {
        "type" if out.kind.is_empty() => {
            out.kind = s.string()?;
            // An empty type is for the general decoder to refuse.
            (!out.kind.is_empty()).then_some(())
        }
        "msg_id" => once(&mut out.msg_id, s.u64()?),
        "in_reply_to" => once(&mut out.in_reply_to, s.u64()?),
        "last_write_index" => once(&mut out.last_write_index, s.u64()?),
        "key" => once(out.key.get_mut(), s.key()?),
        "value" => once(out.value.get_mut(), s.value()?),
        "from" => once(out.from.get_mut(), s.value()?),
        "to" => once(out.to.get_mut(), s.value()?),
        "prefer_follower" => once(&mut out.prefer_follower, s.bool()?),
        "create_if_not_exists" => once(&mut out.create_if_not_exists, s.bool()?),
        _ => None,
    }
}

/// The bytes a string of this path holds as they are: all but the quote,
/// the backslash (an escape: the serde paths read those) and control
/// characters (which JSON forbids raw). A table, since a request is mostly
/// strings and a per-byte test of three conditions cost more than the rest
/// of the scan.
const PLAIN: [bool; 256] = {
    let mut plain = [true; 256];
    let mut b = 0;
    while b < 0x20 {
        plain[b] = false;
        b += 1;
    }
    plain[b'"' as usize] = false;
    plain[b'\\' as usize] = false;
    plain
};

struct Scanner<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// Skips whitespace, then takes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let next = self.bytes.get(self.at) == Some(&byte);
        self.at += usize::from(next);
        next
    }

    /// An object: each field's name goes to `on_field`, which reads its value.
    fn object(&mut self, mut on_field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let name = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            on_field(self, name)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        let rest = &self.bytes[start..];
        let mut length = 0;
        while let Some(&b) = rest.get(length) {
            if !PLAIN[usize::from(b)] {
                break;
            }
            length += 1;
        }
        if rest.get(length) != Some(&b'"') {
            return None;
        }
        self.at = start + length + 1;
        // Both ends are ASCII quotes, so the slice falls on char boundaries.
        self.text.get(start..start + length)
    }

    /// An integer as JSON writes it: its sign and its digits, which must
    /// be followed by a delimiter (a fraction or an exponent gives up).
    fn integer(&mut self) -> Option<(bool, u64)> {
        self.skip_whitespace();
        let negative = self.bytes.get(self.at) == Some(&b'-');
        self.at += usize::from(negative);
        let start = self.at;
        let mut n: u64 = 0;
        while let Some(&d @ b'0'..=b'9') = self.bytes.get(self.at) {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.at += 1;
        }
        let digits = self.at - start;
        let leading_zero = digits > 1 && self.bytes[start] == b'0';
        let delimited = matches!(
            self.bytes.get(self.at),
            Some(b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
        );
        (digits > 0 && !leading_zero && delimited).then_some((negative, n))
    }

    fn u64(&mut self) -> Option<u64> {
        match self.integer()? {
            (false, n) => Some(n),
            // `-0` is an integer to serde_json, but not a u64 to serde.
            (true, _) => None,
        }
    }

    fn i64(&mut self) -> Option<i64> {
        match self.integer()? {
            (false, n) => i64::try_from(n).ok(),
            // serde_json reads `-0` as a float, which no key is.
            (true, 0) => None,
            (true, n) => 0i64.checked_sub_unsigned(n),
        }
    }

    fn key(&mut self) -> Option<Key> {
        self.skip_whitespace();
        match self.bytes.get(self.at)? {
            b'"' => Some(Key::Str(self.string()?.to_owned())),
            _ => self.i64().map(Key::Int),
        }
    }

    fn bool(&mut self) -> Option<bool> {
        self.skip_whitespace();
        let rest = &self.bytes[self.at..];
        let (value, length) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.at += length;
        Some(value)
    }

    /// A client value of the simple kinds; anything else gives up.
    fn value(&mut self) -> Option<Value> {
        self.skip_whitespace();
        match self.bytes.get(self.at)? {
            b'"' => Some(Value::Json(self.string()?.into())),
            b't' | b'f' => self.bool().map(|b| Value::Json(b.into())),
            b'n' if self.bytes[self.at..].starts_with(b"null") => {
                self.at += 4;
                Some(Value::NULL)
            }
            // `-0` keeps its sign as text in a `Value`: not this path's.
            b'-' => match self.integer()? {
                (true, 0) => None,
                (true, n) => 0i64.checked_sub_unsigned(n).map(|n| Value::Json(n.into())),
                (false, _) => None,
            },
            _ => self.u64().map(|n| Value::Json(n.into())),
        }
    }
}

impl RequestFields for Scanned<'_> {
    fn kind(&self) -> &str {
        self.kind
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
        match name {
            "key" => need(self.key.take()),
            _ => Err(absent()),
        }
    }
    fn value(&self, name: &str) -> Result<Value, String> {
        match name {
            "value" => need(self.value.take()),
            "from" => need(self.from.take()),
            "to" => need(self.to.take()),
            _ => Err(absent()),
        }
    }
}
