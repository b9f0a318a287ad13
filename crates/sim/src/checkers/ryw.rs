//! Read-your-writes (the mission) and monotonic reads, judged per session at
//! the moment a read's reply arrives, by the log index of the write that
//! produced the value read.

use ryw_core::{Key, Value};

use super::oracle::ReadFrom;
use super::{Checker, Finish, Property, Reply, Verdict, Violation};
use crate::workload::Session;
use sim_engine::diagram::Highlight;

pub struct SessionGuarantees {
    /// Whether sessions expect monotonic reads (they raise their token to
    /// every index they read at).
    monotonic: bool,
    violations: Vec<Violation>,
}

impl SessionGuarantees {
    pub fn new(monotonic: bool) -> SessionGuarantees {
        SessionGuarantees {
            monotonic,
            violations: Vec::new(),
        }
    }

    /// Checks one successful read (`ryw_read_ok`, or a `read_ok` which is stronger).
    // Longer than 70 lines on purpose: read-your-writes and monotonic reads judged on one read, sharing what the session knows.
    fn check_read(
        &mut self,
        at_ms: u64,
        session: &Session,
        key: &Key,
        value: &Value,
        from: ReadFrom<'_>,
    ) {
        let acked = session.acked.get(key);
        let violations = &mut self.violations;
        let mut report = |property: Property, detail: String| {
            // Named only when reporting: this runs for every read.
            let who = session.client.to_string();
            let mut violation = Violation::new(property, at_ms, Some(who.clone()), detail);
            violation.highlights.push(Highlight {
                lane: who.clone(),
                at_ms,
                what: format!("{property}: this read"),
            });
            if let Some(a) = acked {
                violation.highlights.push(Highlight {
                    lane: who.clone(),
                    at_ms: a.at_ms,
                    what: format!(
                        "acknowledged write of {} at index {} it should have seen",
                        a.value, a.index
                    ),
                });
            }
            violations.push(violation)
        };
        let read_index = match from {
            ReadFrom::Nothing | ReadFrom::Write(_) => from.index(),
            ReadFrom::OtherKey(index, written_key) => {
                report(
                    Property::ReadYourWrites,
                    format!("read of key {key} returned {value}, written to key {written_key} at index {index}"),
                );
                return;
            }
            // Its index is unknown, so it cannot be ordered against the
            // session's writes: judged by nothing here.
            ReadFrom::Unindexed => return,
            ReadFrom::Unknown => {
                report(
                    Property::ReadYourWrites,
                    format!(
                        "read of key {key} returned {value}, which no committed write produced"
                    ),
                );
                return;
            }
        };
        if let Some(a) = acked {
            let (acked_index, acked_value) = (a.index, &a.value);
            if read_index < acked_index {
                let what = if value.is_null() {
                    "null".to_string()
                } else {
                    format!("{value} (index {read_index})")
                };
                report(
                    Property::ReadYourWrites,
                    format!(
                        "read of key {key} returned {what}, older than the session's own acknowledged write of {acked_value} at index {acked_index}"
                    ),
                );
            }
        }
        if self.monotonic {
            if let Some(&seen) = session.seen.get(key) {
                if read_index < seen {
                    report(
                        Property::MonotonicReads,
                        format!("read of key {key} returned index {read_index} after the session had read index {seen}"),
                    );
                }
            }
        }
    }
}

impl Checker for SessionGuarantees {
    fn on_reply(&mut self, reply: &Reply<'_>) {
        let Some(value) = reply.value_read() else {
            return;
        };
        let key = reply.request.op.key();
        let from = reply.oracle.read_from(key, value);
        self.check_read(reply.now_ms, reply.session, key, value, from);
    }

    fn finish(&mut self, _finish: &Finish<'_>, verdict: &mut Verdict) {
        verdict.violations.append(&mut self.violations);
    }
}
