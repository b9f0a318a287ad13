//! Properties of the replicated log, checked after every step of every node:
//! election safety (one leader per term), committed prefixes identical on all
//! nodes (State Machine Safety, which with the oracle also checks Log
//! Matching on the committed part), and durability of acknowledged writes.

use std::collections::BTreeMap;

use std::collections::BTreeSet;

use ryw_core::{Command, Entry, Key, Node, RequestId, RoleKind, Value};

use super::{Highlight, Violation};

/// Most violations of one property recorded; the first ones tell the story.
const VIOLATIONS_MAX: usize = 20;

#[derive(Default)]
pub struct LogSafety {
    /// The committed log as first seen committed on any node.
    pub committed: Vec<Entry>,
    /// Value -> log index of the committed entry that wrote it (values are unique).
    value_index: BTreeMap<String, (u64, Key)>,
    /// Forwarded requests already committed: a later copy takes no effect.
    requests: BTreeSet<RequestId>,
    leaders_by_term: BTreeMap<u64, usize>,
    /// Per node: highest committed index already compared with `committed`.
    checked: Vec<u64>,
    pub violations: Vec<Violation>,
}

/// Values are compared by their JSON text: workloads write unique values.
pub fn value_key(value: &Value) -> String {
    value.to_string()
}

impl LogSafety {
    pub fn new(nodes: usize) -> LogSafety {
        LogSafety {
            checked: vec![0; nodes],
            ..LogSafety::default()
        }
    }

    fn report(&mut self, at_ms: u64, checker: &'static str, detail: String) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations
                .push(Violation::new(checker, at_ms, None, detail));
        }
    }

    /// A node restarted: its commit index starts again from zero.
    pub fn restarted(&mut self, node: usize) {
        self.checked[node] = 0;
    }

    pub fn observe(&mut self, at_ms: u64, index: usize, node: &Node) {
        if node.role() == RoleKind::Leader {
            let term = node.term();
            match self.leaders_by_term.get(&term) {
                Some(&other) if other != index => self.report(
                    at_ms,
                    "election safety",
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
                "commit monotonicity",
                format!(
                    "n{} commit index fell from {} to {commit}",
                    index + 1,
                    self.checked[index]
                ),
            );
        }
        while self.checked[index] < commit {
            let i = self.checked[index] + 1;
            let Some(entry) = node.log().get(i) else {
                self.report(
                    at_ms,
                    "log matching",
                    format!("n{} commits {i} beyond its log", index + 1),
                );
                break;
            };
            match self.committed.get(i as usize - 1) {
                Some(known) if known != entry => {
                    let detail = format!(
                        "committed entry {i} differs: n{} has ({}), committed earlier: ({})",
                        index + 1,
                        entry,
                        known
                    );
                    self.report(at_ms, "log matching", detail);
                }
                Some(_) => {}
                None => {
                    self.committed.push(entry.clone());
                    let duplicate = entry
                        .request
                        .as_ref()
                        .is_some_and(|r| !self.requests.insert(r.clone()));
                    if duplicate {
                        self.checked[index] = i;
                        continue;
                    }
                    let written = match &entry.command {
                        Command::Write { key, value } => Some((key, value)),
                        Command::Cas { key, to, .. } => Some((key, to)),
                        Command::Noop => None,
                    };
                    if let Some((key, value)) = written {
                        self.value_index.insert(value_key(value), (i, key.clone()));
                    }
                }
            }
            self.checked[index] = i;
        }
    }

    /// Log index and key of the committed write that produced `value`.
    pub fn index_of_value(&self, value: &Value) -> Option<&(u64, Key)> {
        self.value_index.get(&value_key(value))
    }

    /// Durability at the end: an acknowledged write sits at its index, with its value.
    pub fn check_acknowledged(
        &mut self,
        at_ms: u64,
        ack: (&str, u64),
        index: u64,
        key: &Key,
        value: &Value,
    ) {
        let (session, acked_ms) = ack;
        let found = self.committed.get(index.wrapping_sub(1) as usize);
        let holds = match found.map(|e| &e.command) {
            Some(Command::Write { key: k, value: v }) => k == key && v == value,
            Some(Command::Cas { key: k, to, .. }) => k == key && to == value,
            _ => false,
        };
        if !holds && self.violations.len() < VIOLATIONS_MAX {
            let detail = format!(
                "write of {value} to key {key} acknowledged at index {index}, but the committed log has {} there",
                found.map_or_else(|| "nothing".to_owned(), |e| format!("({e})"))
            );
            let mut violation =
                Violation::new("durability", at_ms, Some(session.to_owned()), detail);
            violation.highlights.push(Highlight {
                lane: session.to_owned(),
                at_ms: acked_ms,
                what: format!("acknowledgement of a write that was lost (index {index})"),
            });
            self.violations.push(violation);
        }
    }
}
