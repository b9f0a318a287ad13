//! The run's trace: JSON lines of every delivered, dropped or duplicated
//! message (as the message writes itself) and every fault, with simulated time.
//! Hashed as it is written, so determinism tests need not keep it.

use std::fmt::Write as _;
use std::io::Write;

use crate::process::Message;
use crate::text::{fnv1a_extend, FNV1A_START};

#[derive(Default)]
pub struct Trace {
    out: Option<Box<dyn Write + Send>>,
    hashing: bool,
    hash: u64,
    line: String,
    pub write_error: Option<String>,
}

impl Trace {
    pub fn new(out: Option<Box<dyn Write + Send>>, hashing: bool) -> Trace {
        Trace {
            out,
            hashing,
            hash: FNV1A_START,
            ..Trace::default()
        }
    }

    pub fn enabled(&self) -> bool {
        self.out.is_some() || self.hashing
    }

    pub fn message<M: Message>(&mut self, at_ms: u64, event: &str, message: &M) {
        if !self.enabled() {
            return;
        }
        self.line.clear();
        let _ = write!(
            self.line,
            "{{\"t\": {at_ms}, \"event\": \"{event}\", \"msg\": "
        );
        message.write_json(&mut self.line);
        self.line.push('}');
        self.emit();
    }

    pub fn note(&mut self, at_ms: u64, event: &str, detail: &str) {
        if !self.enabled() {
            return;
        }
        self.line.clear();
        let detail = serde_json::Value::from(detail).to_string();
        let _ = write!(
            self.line,
            "{{\"t\": {at_ms}, \"event\": \"{event}\", \"detail\": {detail}}}"
        );
        self.emit();
    }

    fn emit(&mut self) {
        self.line.push('\n');
        self.hash = fnv1a_extend(self.hash, self.line.as_bytes());
        if let Some(out) = &mut self.out {
            if let Err(e) = out.write_all(self.line.as_bytes()) {
                self.write_error.get_or_insert(e.to_string());
                self.out = None;
            }
        }
    }

    pub fn finish(&mut self) -> u64 {
        if let Some(out) = &mut self.out {
            if let Err(e) = out.flush() {
                self.write_error.get_or_insert(e.to_string());
            }
        }
        self.hash
    }
}
