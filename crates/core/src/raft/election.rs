//! Leader election (Raft §5.2) with the voting restriction (§5.4.1), plus
//! two guards from the Raft thesis: pre-vote (§9.6), so a node that lost
//! touch with a healthy leader cannot depose it by bumping terms, and
//! check-quorum, so an isolated leader steps down instead of lingering.

use super::state::{Application, Raft, Role};
use crate::events::Event;
use crate::message::*;
use crate::time::Millis;

impl Raft {
    /// Election timeout: first ask whether a majority would vote, changing no state.
    pub(super) fn start_pre_vote(&mut self, now: Millis, app: &mut impl Application) {
        if self.is_leader() {
            return;
        }
        if self.members().majority() == 1 {
            return self.start_election(now, app);
        }
        self.role = Role::PreCandidate {
            votes: self.own_vote_only(),
        };
        // The term is unchanged, so the last leader stays the best place to
        // forward to: under a one-way cut it may well still be leading.
        self.arm_election_timer(now);
        self.ask_for_votes(self.durable.current_term + 1, true);
    }

    /// Whether this node believes a leader is alive: then it refuses pre-votes.
    fn leader_is_alive(&self, now: Millis) -> bool {
        self.is_leader()
            || (self.leader.is_some()
                && now.since(self.leader_contact) < self.config.election_timeout_ms_min)
    }

    pub(super) fn on_request_vote(
        &mut self,
        now: Millis,
        from: usize,
        request: RequestVote,
        app: &mut impl Application,
    ) {
        if self.defer_vote(from, &request) {
            return; // a node that lost state answers once it knows what it lost
        }
        let log = &self.durable.log;
        // §5.4.1: only vote for a candidate whose log is at least as up to
        // date, and, while recovering, as what the peers' answers hold.
        let up_to_date = (request.last_log_term, request.last_log_index)
            >= (log.last_term(), log.last_index())
            && self.reaches_recovery_floor(request.last_log_term, request.last_log_index);
        if request.pre_vote {
            let granted = request.term > self.durable.current_term
                && up_to_date
                && !self.leader_is_alive(now);
            let reply = RequestVoteOk {
                term: if granted {
                    request.term
                } else {
                    self.durable.current_term
                },
                vote_granted: granted,
                pre_vote: true,
            };
            if !granted {
                self.note(Event::PreVoteRefused);
            }
            return self.send_to_member(from, Payload::Peer(PeerMsg::RequestVoteOk(reply)));
        }
        if request.term > self.durable.current_term {
            self.adopt_term(now, request.term, app);
        }
        let candidate = self.members().ids[from].clone();
        let free = match &self.durable.voted_for {
            None => true,
            Some(voted) => *voted == candidate,
        };
        let granted = request.term == self.durable.current_term && free && up_to_date;
        if request.term == self.durable.current_term && !granted {
            self.note(if up_to_date {
                Event::VoteRefusedAlreadyVoted
            } else {
                Event::VoteRefusedLogBehind
            });
        }
        if granted {
            self.set_term_and_vote(request.term, Some(candidate));
            self.arm_election_timer(now);
        }
        let reply = RequestVoteOk {
            term: self.durable.current_term,
            vote_granted: granted,
            pre_vote: false,
        };
        self.send_to_member(from, Payload::Peer(PeerMsg::RequestVoteOk(reply)));
    }

    pub(super) fn on_request_vote_ok(
        &mut self,
        now: Millis,
        from: usize,
        reply: RequestVoteOk,
        app: &mut impl Application,
    ) {
        let majority = self.members().majority();
        if reply.pre_vote {
            let asked_term = self.durable.current_term + 1;
            if let Role::PreCandidate { votes } = &mut self.role {
                if reply.vote_granted && reply.term == asked_term {
                    votes[from] = true;
                    if votes.iter().filter(|&&v| v).count() >= majority {
                        self.start_election(now, app);
                    }
                    return;
                }
            }
            if !reply.vote_granted && reply.term > self.durable.current_term {
                self.adopt_term(now, reply.term, app);
            }
            return;
        }
        if reply.term > self.durable.current_term {
            return self.adopt_term(now, reply.term, app);
        }
        let current = reply.term == self.durable.current_term;
        if let Role::Candidate { votes } = &mut self.role {
            if current && reply.vote_granted {
                votes[from] = true;
                if votes.iter().filter(|&&v| v).count() >= majority {
                    self.become_leader(now, app);
                }
            }
        }
    }

    /// Whether a majority was heard from within an election timeout; a leader
    /// that cannot say so steps down, so clients stop waiting on it.
    pub(super) fn has_quorum_contact(&self, now: Millis) -> bool {
        let Role::Leader(leader) = &self.role else {
            return false;
        };
        let window_ms = self.config.election_timeout_ms_max;
        now.since(leader.since) < window_ms || leader.progress.heard_from_majority(now, window_ms)
    }

    /// A vote request while recovering: kept for later before the answers
    /// are in (true), otherwise let through to the ordinary rules.
    fn defer_vote(&mut self, from: usize, request: &RequestVote) -> bool {
        match &mut self.recovery {
            Some(recovery) if recovery.floor.is_none() => {
                recovery.deferred[from] = Some(request.clone());
                self.reached.note(Event::VoteDeferredWhileRecovering);
                true
            }
            _ => false,
        }
    }

    /// Whether a candidate's log reaches what a recovering node knows must
    /// be kept (always, for a node that is not recovering).
    fn reaches_recovery_floor(&self, last_log_term: u64, last_log_index: u64) -> bool {
        match &self.recovery {
            None => true,
            Some(recovery) => recovery
                .floor
                .is_some_and(|floor| (last_log_term, last_log_index) >= floor),
        }
    }
}
