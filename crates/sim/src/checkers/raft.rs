//! Properties of the replicated log, checked after every step of every node:
//! election safety (one leader per term), commit indexes that never fall,
//! committed prefixes identical on all nodes (State Machine Safety, which
//! with the oracle also checks Log Matching on the committed part), and, at
//! the end, durability of acknowledged writes.

use std::collections::BTreeMap;

use ryw_core::{ClientOp, Command, Id, Key, OpResult, RoleKind, Value};

use sim_engine::diagram::Highlight;

use super::{Checker, Finish, Property, Reply, Step, Verdict, Violation};

/// Most violations recorded; the first ones tell the story.
const VIOLATIONS_MAX: usize = 20;

/// An acknowledged write, to look for in the committed log at the end.
struct Acknowledged {
    session: Id,
    at_ms: u64,
    index: u64,
    key: Key,
    value: Value,
}

#[derive(Default)]
pub struct LogSafety {
    leaders_by_term: BTreeMap<u64, usize>,
    /// Per node: highest committed index already compared with the oracle.
    checked: Vec<u64>,
    acknowledged: Vec<Acknowledged>,
    violations: Vec<Violation>,
}

impl LogSafety {
    pub fn new(nodes: usize) -> LogSafety {
        LogSafety {
            checked: vec![0; nodes],
            ..LogSafety::default()
        }
    }

    fn report(&mut self, at_ms: u64, property: Property, detail: String) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations
                .push(Violation::new(property, at_ms, None, detail));
        }
    }

    /// Durability: an acknowledged write sits at its index, with its value.
    fn check_acknowledged(&mut self, at_ms: u64, ack: &Acknowledged, finish: &Finish<'_>) {
        let found = finish.oracle.entry(ack.index);
        let holds = match found.map(|e| &e.command) {
            Some(Command::Write { key: k, value: v }) => *k == ack.key && *v == ack.value,
            Some(Command::Cas { key: k, to, .. }) => *k == ack.key && *to == ack.value,
            _ => false,
        };
        if !holds && self.violations.len() < VIOLATIONS_MAX {
            let detail = format!(
                "write of {} to key {} acknowledged at index {}, but the committed log has {} there",
                ack.value,
                ack.key,
                ack.index,
                found.map_or_else(|| "nothing".to_owned(), |e| format!("({e})"))
            );
            let session = ack.session.to_string();
            let mut violation =
                Violation::new(Property::Durability, at_ms, Some(session.clone()), detail);
            violation.highlights.push(Highlight {
                lane: session,
                at_ms: ack.at_ms,
                what: format!(
                    "acknowledgement of a write that was lost (index {})",
                    ack.index
                ),
            });
            self.violations.push(violation);
        }
    }
}

impl Checker for LogSafety {
    fn on_step(&mut self, step: &Step<'_>) {
        let (at_ms, index, node) = (step.now_ms, step.node, step.core);
        if node.role() == RoleKind::Leader {
            let term = node.term();
            match self.leaders_by_term.get(&term) {
                Some(&other) if other != index => self.report(
                    at_ms,
                    Property::ElectionSafety,
                    format!("n{} and n{} both lead term {term}", other + 1, index + 1),
                ),
                Some(_) => {}
                None => {
                    self.leaders_by_term.insert(term, index);
                }
            }
        }
        let commit = node.commit_index();
        if commit < self.checked[index] {
            self.report(
                at_ms,
                Property::CommitMonotonicity,
                format!(
                    "n{} commit index fell from {} to {commit}",
                    index + 1,
                    self.checked[index]
                ),
            );
        }
        // Entries a snapshot covers are gone from the log: they were
        // checked when they committed here, or this node took them from a
        // snapshot (whose entries the leader's log was checked for).
        let (base, _) = node.log().base();
        self.checked[index] = self.checked[index].max(base.min(commit));
        while self.checked[index] < commit {
            let i = self.checked[index] + 1;
            let Some(entry) = node.log().get(i) else {
                self.report(
                    at_ms,
                    Property::LogMatching,
                    format!("n{} commits {i} beyond its log", index + 1),
                );
                break;
            };
            if let Some(known) = step.oracle.entry(i).filter(|known| *known != entry) {
                let detail = format!(
                    "committed entry {i} differs: n{} has ({}), committed earlier: ({})",
                    index + 1,
                    entry,
                    known
                );
                self.report(at_ms, Property::LogMatching, detail);
            }
            self.checked[index] = i;
        }
    }

    /// A restarted node's commit index starts again from zero.
    fn on_restart(&mut self, node: usize) {
        self.checked[node] = 0;
    }

    fn on_reply(&mut self, reply: &Reply<'_>) {
        let (key, value, index) = match (&reply.request.op, reply.result) {
            (ClientOp::Write { key, value }, Some(OpResult::WriteOk { commit_index }))
            | (ClientOp::Cas { key, to: value, .. }, Some(OpResult::CasOk { commit_index })) => {
                (key, value, *commit_index)
            }
            _ => return,
        };
        self.acknowledged.push(Acknowledged {
            session: reply.session.client.clone(),
            at_ms: reply.now_ms,
            index,
            key: key.clone(),
            value: value.clone(),
        });
    }

    fn finish(&mut self, finish: &Finish<'_>, verdict: &mut Verdict) {
        for ack in std::mem::take(&mut self.acknowledged) {
            self.check_acknowledged(finish.end_ms, &ack, finish);
        }
        verdict.violations.append(&mut self.violations);
    }
}

#[cfg(test)]
mod tests {
    use ryw_core::Entry;

    use super::super::fixtures::{lone_leader, reply, request, session, verdict};
    use super::super::oracle::CommittedLog;
    use super::*;

    fn entry(command: Command) -> Entry {
        Entry {
            term: 1,
            command,
            request: None,
        }
    }

    fn write(key: i64, value: i64) -> Command {
        Command::Write {
            key: Key::Int(key),
            value: Value::from(value),
        }
    }

    /// The durability violations for writes of 7 to key 1 and 8 to key 2
    /// acknowledged at indexes 1 and 2, when the committed log holds
    /// `committed`.
    fn durability(committed: Vec<Command>) -> Vec<String> {
        let session = session();
        let mut oracle = CommittedLog::default();
        oracle.committed = committed.into_iter().map(entry).collect();
        let mut checker = LogSafety::new(1);
        let acked = [
            (
                ClientOp::Write {
                    key: Key::Int(1),
                    value: Value::from(7),
                },
                1,
            ),
            (
                ClientOp::Cas {
                    key: Key::Int(2),
                    from: Value::NULL,
                    to: Value::from(8),
                    create_if_not_exists: true,
                },
                2,
            ),
        ];
        for (op, index) in acked {
            let ok = match op {
                ClientOp::Write { .. } => OpResult::WriteOk {
                    commit_index: index,
                },
                _ => OpResult::CasOk {
                    commit_index: index,
                },
            };
            checker.on_reply(&reply(&session, &request(op), &ok, &oracle));
        }
        let verdict = verdict(&mut checker, &oracle);
        verdict.violations.into_iter().map(|v| v.detail).collect()
    }

    #[test]
    fn an_acknowledged_write_must_sit_at_its_index_with_its_key_and_value() {
        let cas = |key, to| Command::Cas {
            key: Key::Int(key),
            from: Value::NULL,
            to: Value::from(to),
            create_if_not_exists: true,
        };
        assert!(durability(vec![write(1, 7), cas(2, 8)]).is_empty());
        // The same key with another value, or the same value on another
        // key, is a lost write; so is an index nobody committed.
        let lost = durability(vec![write(1, 9), cas(3, 8)]);
        assert_eq!(lost.len(), 2, "{lost:?}");
        assert!(
            lost[0].contains("write of 7 to key 1 acknowledged at index 1"),
            "{lost:?}"
        );
        assert_eq!(durability(vec![write(2, 7), cas(2, 8)]).len(), 1);
        assert_eq!(durability(vec![write(1, 7), cas(2, 9)]).len(), 1);
        assert_eq!(durability(vec![write(1, 7)]).len(), 1);
    }

    #[test]
    fn two_leaders_of_one_term_break_election_safety_and_one_leader_stepping_twice_does_not() {
        let (a, b) = (lone_leader(1), lone_leader(2));
        assert_eq!(a.term(), b.term(), "each led its own cluster's first term");
        let oracle = CommittedLog::default();
        let mut checker = LogSafety::new(2);
        let step = |node: usize, core| Step {
            now_ms: 5,
            node,
            core,
            oracle: &oracle,
        };
        checker.on_step(&step(0, &a));
        checker.on_step(&step(0, &a));
        assert!(checker.violations.is_empty());
        checker.on_step(&step(1, &b));
        assert_eq!(checker.violations.len(), 1);
        assert_eq!(checker.violations[0].checker, Property::ElectionSafety);
        assert!(checker.violations[0]
            .detail
            .contains("n1 and n2 both lead term"));
    }

    #[test]
    fn at_most_twenty_violations_are_kept() {
        let mut checker = LogSafety::new(1);
        for k in 0..25 {
            checker.report(k, Property::ElectionSafety, "two leaders".into());
        }
        assert_eq!(checker.violations.len(), VIOLATIONS_MAX);
        // The lost writes found at the end count against the same cap.
        let mut checker = LogSafety::new(1);
        let (session, oracle) = (session(), CommittedLog::default());
        for index in 1..=25 {
            let op = ClientOp::Write {
                key: Key::Int(1),
                value: Value::from(index as i64),
            };
            let ok = OpResult::WriteOk {
                commit_index: index,
            };
            checker.on_reply(&reply(&session, &request(op), &ok, &oracle));
        }
        let verdict = verdict(&mut checker, &oracle);
        assert_eq!(verdict.violations.len(), VIOLATIONS_MAX);
    }
}
