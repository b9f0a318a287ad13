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
