//! One vote per term, across restarts: a node that granted its vote in a
//! term never grants it to another candidate in that term, even after a
//! crash. Judged on the votes nodes *send*: a vote made in memory and lost
//! in a crash before it left the node was never cast, so a node may vote
//! again after such a crash; one that left was heard, and had to be durable.

use std::collections::BTreeMap;

use ryw_core::{Envelope, Id, Payload, PeerMsg};

use super::{Checker, Finish, Property, Verdict, Violation};

/// Most violations recorded; the first ones tell the story.
const VIOLATIONS_MAX: usize = 20;

#[derive(Default)]
pub struct OneVotePerTerm {
    /// (voter, term) -> the candidate it granted its vote to.
    granted: BTreeMap<(usize, u64), Id>,
    violations: Vec<Violation>,
}

impl Checker for OneVotePerTerm {
    fn on_send(&mut self, now_ms: u64, from: usize, envelope: &Envelope) {
        let Payload::Peer(PeerMsg::RequestVoteOk(vote)) = &envelope.body.payload else {
            return;
        };
        if !vote.vote_granted || vote.pre_vote {
            return;
        }
        let candidate = &envelope.dest;
        match self.granted.get(&(from, vote.term)) {
            None => {
                self.granted.insert((from, vote.term), candidate.clone());
            }
            Some(first) if first != candidate && self.violations.len() < VIOLATIONS_MAX => {
                let detail = format!(
                    "n{} granted its vote in term {} to {first}, then to {candidate}: it forgot \
                     a vote it had sent (a vote must be durable before it leaves)",
                    from + 1,
                    vote.term
                );
                self.violations.push(Violation::new(
                    Property::OneVotePerTerm,
                    now_ms,
                    None,
                    detail,
                ));
            }
            Some(_) => {}
        }
    }

    fn finish(&mut self, _finish: &Finish<'_>, verdict: &mut Verdict) {
        verdict.violations.append(&mut self.violations);
    }
}
