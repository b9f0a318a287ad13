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

#[cfg(test)]
mod tests {
    use ryw_core::{Body, RequestVoteOk};

    use super::super::fixtures::verdict;
    use super::super::oracle::CommittedLog;
    use super::*;

    fn vote(to: u32, term: u64, vote_granted: bool, pre_vote: bool) -> Envelope {
        let ok = RequestVoteOk {
            term,
            vote_granted,
            pre_vote,
        };
        Envelope {
            src: Id::Node(1),
            dest: Id::Node(to),
            body: Body {
                msg_id: None,
                in_reply_to: None,
                payload: Payload::Peer(PeerMsg::RequestVoteOk(ok)),
            },
        }
    }

    #[test]
    fn a_vote_granted_to_a_second_candidate_in_one_term_is_a_violation_and_nothing_else_is() {
        let mut checker = OneVotePerTerm::default();
        // n1 votes for n2 in term 3, and says so twice (a re-sent request).
        checker.on_send(1, 0, &vote(2, 3, true, false));
        checker.on_send(2, 0, &vote(2, 3, true, false));
        // Refusals, pre-votes, another term, another voter: all fine.
        checker.on_send(3, 0, &vote(3, 3, false, false));
        checker.on_send(4, 0, &vote(3, 3, true, true));
        checker.on_send(5, 0, &vote(3, 4, true, false));
        checker.on_send(6, 1, &vote(3, 3, true, false));
        assert!(checker.violations.is_empty());
        // n1 votes for n3 in term 3 too: it forgot the vote it sent.
        checker.on_send(7, 0, &vote(3, 3, true, false));
        let verdict = verdict(&mut checker, &CommittedLog::default());
        assert_eq!(verdict.violations.len(), 1);
        let violation = &verdict.violations[0];
        assert_eq!(
            (violation.checker, violation.at_ms),
            (Property::OneVotePerTerm, 7)
        );
        assert!(violation
            .detail
            .contains("n1 granted its vote in term 3 to n2, then to n3"));
    }

    #[test]
    fn at_most_twenty_violations_are_kept() {
        let mut checker = OneVotePerTerm::default();
        for term in 1..=25 {
            checker.on_send(term, 0, &vote(2, term, true, false));
            checker.on_send(term, 0, &vote(3, term, true, false));
        }
        assert_eq!(checker.violations.len(), VIOLATIONS_MAX);
    }
}
