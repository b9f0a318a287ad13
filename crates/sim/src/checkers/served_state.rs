//! Served state: every `ryw_read` returns exactly the committed state at the
//! applied index its reply reports. A node that restarts holds its log but
//! has applied nothing; one that served a read before replaying its log
//! (etcd #3879, the Consul stale-read shape) would report an index it had
//! not reached in its state, and this catches it on the first such read,
//! whether or not the session's own write shows it.

use std::collections::BTreeMap;

use ryw_core::kv::Applied;
use ryw_core::{ClientOp, Command, Key, Kv, OpResult, Value};

use super::{Checker, Finish, Property, Reply, Step, Verdict, Violation};

/// Most violations recorded; the first ones tell the story.
const VIOLATIONS_MAX: usize = 20;

#[derive(Default)]
pub struct ServedState {
    /// The committed log replayed so far.
    kv: Kv,
    /// Per key: (index, value) of every committed change, in index order.
    versions: BTreeMap<Key, Vec<(u64, Value)>>,
    violations: Vec<Violation>,
}

impl ServedState {
    /// Replays what the oracle has committed beyond what is replayed.
    fn catch_up(&mut self, oracle: &super::oracle::CommittedLog) {
        while let Some(entry) = oracle.entry(self.kv.applied_index() + 1) {
            let index = self.kv.applied_index() + 1;
            if self.kv.apply(index, entry) == Applied::Written {
                let key = match &entry.command {
                    Command::Write { key, .. } | Command::Cas { key, .. } => key.clone(),
                    Command::Noop => unreachable!("a no-op writes nothing"),
                };
                let value = self.kv.get(&key).expect("just written").value.clone();
                self.versions.entry(key).or_default().push((index, value));
            }
        }
    }

    /// The committed value of `key` once entries `1..=index` are applied.
    fn value_at(&self, key: &Key, index: u64) -> Value {
        let versions = self.versions.get(key).map_or(&[][..], Vec::as_slice);
        let newer = versions.partition_point(|(at, _)| *at <= index);
        newer
            .checked_sub(1)
            .map_or(Value::NULL, |k| versions[k].1.clone())
    }
}

impl Checker for ServedState {
    fn on_step(&mut self, step: &Step<'_>) {
        self.catch_up(step.oracle);
    }

    fn on_reply(&mut self, reply: &Reply<'_>) {
        let (
            ClientOp::RywRead { key, .. },
            Some(OpResult::RywReadOk {
                value,
                served_by,
                applied_index,
                ..
            }),
        ) = (&reply.request.op, reply.result)
        else {
            return;
        };
        self.catch_up(reply.oracle);
        if *applied_index > self.kv.applied_index() {
            return; // the log checkers report an index applied but never committed
        }
        let expected = self.value_at(key, *applied_index);
        if *value != expected && self.violations.len() < VIOLATIONS_MAX {
            let detail = format!(
                "{served_by} served ryw_read of key {key} as {value} at applied index \
                 {applied_index}, but the committed state there holds {expected}: it served a \
                 state that does not match the index it reports (not yet replayed?)"
            );
            let session = Some(reply.session.client.to_string());
            self.violations.push(Violation::new(
                Property::ServedState,
                reply.now_ms,
                session,
                detail,
            ));
        }
    }

    fn finish(&mut self, _finish: &Finish<'_>, verdict: &mut Verdict) {
        verdict.violations.append(&mut self.violations);
    }
}

#[cfg(test)]
mod tests {
    use ryw_core::{Entry, Id, Served};

    use super::super::fixtures::{details, reply, request, session, verdict};
    use super::super::oracle::CommittedLog;
    use super::*;

    #[test]
    fn a_read_must_return_the_committed_value_at_the_index_it_reports_up_to_the_newest() {
        let session = session();
        let mut oracle = CommittedLog::default();
        for value in [10, 20] {
            oracle.committed.push(Entry {
                term: 1,
                command: Command::Write {
                    key: Key::Int(1),
                    value: Value::from(value),
                },
                request: None,
            });
        }
        let read = request(ClientOp::RywRead {
            key: Key::Int(1),
            last_write_index: 0,
            prefer_follower: true,
        });
        let mut checker = ServedState::default();
        // (value, applied index): right at 2 and at 1, wrong at 2 and at 1,
        // and beyond what committed (the log checkers' to report).
        for (value, applied_index) in [(20, 2), (10, 1), (10, 2), (20, 1), (10, 3)] {
            let ok = OpResult::RywReadOk {
                value: Value::from(value),
                served_by: Id::Node(2),
                applied_index,
                how: Served::Locally { waited_ms: 0 },
            };
            checker.on_reply(&reply(&session, &read, &ok, &oracle));
        }
        let verdict = verdict(&mut checker, &oracle);
        let details = details(&verdict);
        assert_eq!(details.len(), 2, "{details:?}");
        assert!(
            details[0].contains("as 10 at applied index 2"),
            "{details:?}"
        );
        assert!(
            details[1].contains("as 20 at applied index 1"),
            "{details:?}"
        );
    }

    #[test]
    fn at_most_twenty_violations_are_kept() {
        let session = session();
        let mut oracle = CommittedLog::default();
        oracle.committed.push(Entry {
            term: 1,
            command: Command::Write {
                key: Key::Int(1),
                value: Value::from(10),
            },
            request: None,
        });
        let read = request(ClientOp::RywRead {
            key: Key::Int(1),
            last_write_index: 0,
            prefer_follower: true,
        });
        let wrong = OpResult::RywReadOk {
            value: Value::from(30),
            served_by: Id::Node(2),
            applied_index: 1,
            how: Served::Locally { waited_ms: 0 },
        };
        let mut checker = ServedState::default();
        for _ in 0..25 {
            checker.on_reply(&reply(&session, &read, &wrong, &oracle));
        }
        assert_eq!(checker.violations.len(), VIOLATIONS_MAX);
    }
}
