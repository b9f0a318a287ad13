//! Protocol-aware recovery (CTRL, FAST '18; TigerBeetle's recovering
//! replicas): what a node does after it lost durable state.
//!
//! A node whose disk came back empty, cut below what it had synced, or
//! damaged may have forgotten a vote it sent and entries it acknowledged.
//! Raft's safety rests on both: a forgotten vote lets two leaders win one
//! term, and a voter that forgot committed entries can help elect a leader
//! without them. Such a node boots *recovering* ([`crate::Durable::recovering`],
//! which the runtime sets when it cannot trust the disk) and:
//!
//! 1. grants no vote and starts no election; vote requests wait;
//! 2. asks every peer for its term, its vote and the end of its log
//!    ([`Probe`]), from its first election timeout or the first message a
//!    peer sends it, again every timeout, until a majority of the *other*
//!    members answered (every other member in a cluster of two or three).
//!    An answer from a peer that knows it lost state too (a cut or damaged
//!    log, not yet caught up) does not count. A peer that found an empty
//!    disk counts: it holds only what it received since, and if it was
//!    wiped rather than new, that is the one loss this design survives.
//!    Any committed entry is on a majority; that majority and the answers
//!    share a node other than this one, so the longest answered log (the
//!    *floor*) is at least as up to date as a log holding every committed
//!    entry;
//! 3. then takes the highest answered term. In that term it may vote only
//!    for the candidate the answers agree it could already have voted for
//!    (one that voted for itself, or that the others voted for), and for
//!    nobody if the answers disagree or name none: its own vote is recorded
//!    as that candidate's, or as its own, durably;
//! 4. grants votes, waiting requests first, only to candidates whose log
//!    reaches the floor, and starts no election until its own log does;
//! 5. once its log reaches the floor it is caught up: every committed
//!    entry is in its log, and it is an ordinary member again (the flag is
//!    cleared durably).
//!
//! A brand-new cluster is the same case seen from every node at once: each
//! node's disk is empty, the answers are all term 0 with empty logs, the
//! floor is the empty log, and each node is caught up as soon as a majority
//! of the others answered, one round trip after its first timeout.
//!
//! What it assumes: at most one node lost state at a time (a second loss in
//! the same majority can lose what only the two held, as with any
//! replication of that size). In clusters of five or more, a vote this node
//! forgot is seen only if its candidate, or a node that already voted for
//! it, is among the answers; when neither is, and that very election is
//! still undecided, the recovered node could vote a second time in it.

use super::recovery_answers::{answers_needed, vote_in, Recovery};
use super::state::{Application, Raft};
use crate::events::Event;
use crate::message::*;
use crate::time::Millis;

impl Raft {
    /// At `join`: a node that lost state starts recovering (a cluster of
    /// one has nobody to ask, and nothing to lose that it could get back).
    pub(super) fn begin_recovery_if_needed(&mut self, now: Millis, app: &mut impl Application) {
        if !self.durable.recovering {
            return;
        }
        self.recovery = Some(Recovery::new(self.members().ids.len()));
        self.note(Event::RecoveryStarted);
        self.warn("this node lost durable state: it will not vote or stand for election until it has caught up from its peers".to_owned());
        if answers_needed(self.members().ids.len()) == 0 {
            self.confirm_recovery(now, app);
        }
    }

    /// The election timer fired while recovering: nothing to campaign for;
    /// probes go out on their own timer ([`Node::next_probe_at`]).
    pub(super) fn recovery_timeout(&mut self, now: Millis) {
        self.arm_election_timer(now);
        self.probe_all_due(now);
    }

    /// Asks every member that is due (see [`Node::probe_if_due`]).
    pub(super) fn probe_all_due(&mut self, now: Millis) {
        if self.recovery.is_none() {
            return;
        }
        let peers: Vec<usize> = self.members().peers().collect();
        for peer in peers {
            self.probe_if_due(now, peer);
        }
    }

    /// When the next probe to a silent member falls due: an election
    /// timeout after it was last asked, whether or not a leader keeps this
    /// node's election timer from firing.
    pub(super) fn next_probe_at(&self) -> Option<Millis> {
        let recovery = self.recovery.as_ref()?;
        if recovery.floor.is_some() {
            return None;
        }
        let resend_ms = self.config.election_timeout_ms_min;
        recovery
            .asked_at
            .iter()
            .zip(&recovery.answers)
            .filter_map(|(asked, answer)| match (asked, answer) {
                (Some(at), None) => Some(at.plus(resend_ms)),
                _ => None,
            })
            .min()
    }

    /// A peer spoke: the first time anyone does, a recovering node asks
    /// everyone (a cluster that starts together learns that it is new within
    /// a round trip); later, it asks the speaker if that one is due.
    pub(super) fn probe_on_contact(&mut self, now: Millis, from: usize) {
        let Some(recovery) = &self.recovery else {
            return;
        };
        if recovery.asked_at.iter().all(Option::is_none) {
            self.probe_all_due(now);
        } else {
            self.probe_if_due(now, from);
        }
    }

    /// Asks `peer` unless it answered or was asked within an election timeout.
    fn probe_if_due(&mut self, now: Millis, peer: usize) {
        let resend_ms = self.config.election_timeout_ms_min;
        let Some(recovery) = &mut self.recovery else {
            return;
        };
        let due = recovery.floor.is_none()
            && recovery.answers[peer].is_none()
            && recovery.asked_at[peer].is_none_or(|at| now.since(at) >= resend_ms);
        if !due {
            return;
        }
        recovery.asked_at[peer] = Some(now);
        let probe = Probe {
            incarnation: self.config.incarnation,
            last_log_index: self.durable.log.last_index(),
        };
        self.send_to_member(peer, Payload::Peer(PeerMsg::Probe(probe)));
    }

    /// Any node answers a probe with what it holds (the answer waits for
    /// that state to be durable, like every message a peer acts on).
    pub(super) fn on_probe(&mut self, from: usize, probe: Probe) {
        self.forget_lost_match(from, probe.last_log_index);
        let answer = ProbeOk {
            incarnation: probe.incarnation,
            term: self.durable.current_term,
            voted_for: self.durable.voted_for.clone(),
            last_log_index: self.durable.log.last_index(),
            last_log_term: self.durable.log.last_term(),
            lost: self.recovery.is_some() && self.durable.lost,
        };
        self.send_to_member(from, Payload::Peer(PeerMsg::ProbeOk(answer)));
    }

    pub(super) fn on_probe_ok(
        &mut self,
        now: Millis,
        from: usize,
        answer: ProbeOk,
        app: &mut impl Application,
    ) {
        let needed = answers_needed(self.members().ids.len());
        let incarnation = self.config.incarnation;
        let Some(recovery) = &mut self.recovery else {
            return;
        };
        if recovery.floor.is_some() || answer.incarnation != incarnation {
            return; // done already, or meant for an earlier life
        }
        if answer.lost {
            // It lost state too: what it holds may lack committed entries.
            // It is asked again later; if every peer lost state (every disk
            // damaged at once) nobody votes until an operator steps in.
            return;
        }
        recovery.answers[from] = Some(answer);
        if recovery.answers.iter().flatten().count() >= needed {
            self.confirm_recovery(now, app);
        }
    }

    /// Enough members answered: take on the term and the vote they imply,
    /// fix the floor, answer the vote requests that waited.
    fn confirm_recovery(&mut self, now: Millis, app: &mut impl Application) {
        let me = self.me();
        let Some(recovery) = &mut self.recovery else {
            return;
        };
        let answers: Vec<&ProbeOk> = recovery.answers.iter().flatten().collect();
        let answered = answers.len();
        let floor = answers
            .iter()
            .map(|a| (a.last_log_term, a.last_log_index))
            .max()
            .unwrap_or((0, 0));
        let term = answers.iter().map(|a| a.term).max().unwrap_or(0);
        let vote = vote_in(term, &answers).unwrap_or(me);
        recovery.floor = Some(floor);
        let deferred = std::mem::take(&mut recovery.deferred);
        let current = self.durable.current_term;
        if term > current || (term == current && self.durable.voted_for.is_none()) {
            // A term above 0 with no vote to give in it is recorded as a
            // vote for itself: nobody else gets it in that term.
            let vote = (term > 0).then_some(vote);
            if term > current {
                self.become_follower(now, app);
                self.set_leader(None);
            }
            self.set_term_and_vote(term, vote);
        }
        self.warn(format!(
            "recovering: {answered} peers answered; highest term {term}, log to catch up to (term {}, index {})",
            floor.0,
            floor.1
        ));
        for (from, request) in deferred.into_iter().enumerate() {
            if let Some(request) = request {
                self.on_request_vote(now, from, request, app);
            }
        }
        self.finish_recovery_if_caught_up();
    }

    /// Ends recovery once this node's own log reaches the floor: it then
    /// holds every entry that was committed when the answers came.
    pub(crate) fn finish_recovery_if_caught_up(&mut self) {
        let log = &self.durable.log;
        let position = (log.last_term(), log.last_index());
        let Some(floor) = self.recovery.as_ref().and_then(Recovery::floor) else {
            return;
        };
        if position < floor {
            return;
        }
        self.recovery = None;
        self.note(Event::RecoveryFinished);
        self.durable.lost = false;
        self.set_recovering(false);
        self.warn(format!(
            "recovered: the log reaches (term {}, index {}); voting again",
            floor.0, floor.1
        ));
    }
}
