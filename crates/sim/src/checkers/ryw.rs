//! Read-your-writes (the mission) and monotonic reads, judged per session at
//! the moment a read's reply arrives, by the log index of the write that
//! produced the value read.

use ryw_core::{Key, Value};

use super::raft::LogSafety;
use super::{Highlight, Violation};
use crate::workload::Session;

/// Checks one successful read (`ryw_read_ok`, or a `read_ok` which is stronger).
/// Returns the log index of the value read (0 for "no value").
pub fn check_read(
    at_ms: u64,
    session: &Session,
    monotonic: bool,
    key: &Key,
    value: &Value,
    log: &LogSafety,
    violations: &mut Vec<Violation>,
) -> u64 {
    let who = session.client.to_string();
    let acked = session.acked.get(key);
    let mut report = |checker: &'static str, detail: String| {
        let mut violation = Violation::new(checker, at_ms, Some(who.clone()), detail);
        violation.highlights.push(Highlight {
            lane: who.clone(),
            at_ms,
            what: format!("{checker}: this read"),
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
    let read_index = if value.is_null() {
        0
    } else {
        match log.index_of_value(value) {
            Some((index, written_key)) if written_key == key => *index,
            Some((index, written_key)) => {
                report(
                    "read-your-writes",
                    format!("read of key {key} returned {value}, written to key {written_key} at index {index}"),
                );
                return *index;
            }
            None => {
                report(
                    "read-your-writes",
                    format!(
                        "read of key {key} returned {value}, which no committed write produced"
                    ),
                );
                return 0;
            }
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
                "read-your-writes",
                format!(
                    "read of key {key} returned {what}, older than the session's own acknowledged write of {acked_value} at index {acked_index}"
                ),
            );
        }
    }
    if monotonic {
        if let Some(&seen) = session.seen.get(key) {
            if read_index < seen {
                report(
                    "monotonic reads",
                    format!("read of key {key} returned index {read_index} after the session had read index {seen}"),
                );
            }
        }
    }
    read_index
}
