//! What a recovering node gathered from its peers (see `recovery.rs`):
//! their answers, when each was asked, the floor they set, and the vote
//! requests that wait for it. A leaf: plain data and the two rules that
//! read the answers.

use crate::id::Id;
use crate::message::{ProbeOk, RequestVote};
use crate::time::Millis;

/// A recovering node's progress.
pub(super) struct Recovery {
    /// This life's answers, by member.
    pub(super) answers: Vec<Option<ProbeOk>>,
    /// When each member was last asked (never: `None`).
    pub(super) asked_at: Vec<Option<Millis>>,
    /// Set once enough members answered: (last term, last index) of the
    /// most up-to-date answered log, the least a voter needs.
    pub(super) floor: Option<(u64, u64)>,
    /// Vote requests that came before the answers, the latest per member.
    pub(super) deferred: Vec<Option<RequestVote>>,
}

impl Recovery {
    pub(super) fn new(members: usize) -> Recovery {
        Recovery {
            answers: vec![None; members],
            asked_at: vec![None; members],
            floor: None,
            deferred: vec![None; members],
        }
    }

    /// The least up-to-date log a vote may go to, once known.
    pub(super) fn floor(&self) -> Option<(u64, u64)> {
        self.floor
    }
}

/// Answers from other members that make a majority together with any
/// committed entry's holders: a majority, but never more than the others.
pub(super) fn answers_needed(members: usize) -> usize {
    (members / 2 + 1).min(members - 1)
}

/// The vote a recovering node takes on in `term`, the highest answered:
/// the one candidate the answers in that term name, else none it may give.
pub(super) fn vote_in(term: u64, answers: &[&ProbeOk]) -> Option<Id> {
    let mut named = answers
        .iter()
        .filter(|a| a.term == term)
        .filter_map(|a| a.voted_for.as_ref());
    let first = named.next()?;
    named.all(|other| other == first).then(|| first.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(term: u64, voted_for: Option<u32>) -> ProbeOk {
        ProbeOk {
            incarnation: 1,
            term,
            voted_for: voted_for.map(Id::Node),
            last_log_index: 0,
            last_log_term: 0,
            lost: false,
        }
    }

    #[test]
    fn a_majority_of_the_others_is_asked_for_but_never_more_than_all_of_them() {
        assert_eq!(answers_needed(1), 0);
        assert_eq!(answers_needed(2), 1);
        assert_eq!(answers_needed(3), 2);
        assert_eq!(answers_needed(4), 3);
        assert_eq!(answers_needed(5), 3);
        assert_eq!(answers_needed(7), 4);
    }

    #[test]
    fn the_vote_taken_on_is_the_one_the_answers_agree_on() {
        let (a, b, c) = (answer(5, Some(2)), answer(5, Some(2)), answer(4, Some(3)));
        assert_eq!(vote_in(5, &[&a, &b, &c]), Some(Id::Node(2)));
        let d = answer(5, Some(3));
        assert_eq!(vote_in(5, &[&a, &d]), None, "they disagree");
        let e = answer(5, None);
        assert_eq!(vote_in(5, &[&e]), None, "nobody named");
        assert_eq!(vote_in(5, &[&e, &a]), Some(Id::Node(2)));
    }
}
