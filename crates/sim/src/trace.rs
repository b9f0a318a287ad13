//! The run's trace: JSON lines of every delivered, dropped or duplicated
//! message (as a Maelstrom envelope) and every fault, with simulated time.
//! Hashed as it is written, so determinism tests need not keep it.

use std::fmt::Write as _;
use std::io::Write;

use ryw_core::{codec, Envelope, Millis};

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
            hash: 0xcbf2_9ce4_8422_2325,
            ..Trace::default()
        }
    }

    pub fn enabled(&self) -> bool {
        self.out.is_some() || self.hashing
    }

    pub fn message(&mut self, at: Millis, event: &str, envelope: &Envelope) {
        if !self.enabled() {
            return;
        }
        self.line.clear();
        let _ = write!(
            self.line,
            "{{\"t\": {}, \"event\": \"{event}\", \"msg\": ",
            at.as_ms()
        );
        codec::encode_into(envelope, &mut self.line);
        self.line.push('}');
        self.emit();
    }

    pub fn note(&mut self, at: Millis, event: &str, detail: &str) {
        if !self.enabled() {
            return;
        }
        self.line.clear();
        let detail = serde_json::Value::from(detail).to_string();
        let _ = write!(
            self.line,
            "{{\"t\": {}, \"event\": \"{event}\", \"detail\": {detail}}}",
            at.as_ms()
        );
        self.emit();
    }

    fn emit(&mut self) {
        self.line.push('\n');
        for &b in self.line.as_bytes() {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
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
