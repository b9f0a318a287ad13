//! Leader election (Raft §5.2) with the voting restriction (§5.4.1), plus
//! two guards from the Raft thesis: pre-vote (§9.6), so a node that lost
//! touch with a healthy leader cannot depose it by bumping terms, and
//! check-quorum, so an isolated leader steps down instead of lingering.

use rand::Rng;

use super::progress::Followers;
use super::{Leader, Node, Role};
use crate::events::Event;
use crate::message::*;
use crate::time::Millis;

impl Node {
    pub(super) fn arm_election_timer(&mut self, now: Millis) {
        let ms = self.rng.random_range(
            self.config.election_timeout_ms_min..=self.config.election_timeout_ms_max,
        );
        self.election_deadline = now.plus(ms);
    }

    /// Election timeout: first ask whether a majority would vote, changing no state.
    pub(super) fn start_pre_vote(&mut self, now: Millis) {
        if self.is_leader() {
            return;
        }
        if self.members().majority() == 1 {
            return self.start_election(now);
        }
        self.role = Role::PreCandidate {
            votes: self.own_vote_only(),
        };
        // The term is unchanged, so the last leader stays the best place to
        // forward to: under a one-way cut it may well still be leading.
        self.arm_election_timer(now);
        self.ask_for_votes(self.durable.current_term + 1, true);
    }

    /// A vote table holding this node's own vote only.
    fn own_vote_only(&self) -> Vec<bool> {
        let mut votes = vec![false; self.members().ids.len()];
        votes[self.members().me] = true;
        votes
    }

    /// Sends RequestVote for `term` to every peer, with this node's last
    /// log position (the election restriction, §5.4.1).
    fn ask_for_votes(&mut self, term: u64, pre_vote: bool) {
        let request = RequestVote {
            term,
            last_log_index: self.durable.log.last_index(),
            last_log_term: self.durable.log.last_term(),
            pre_vote,
        };
        let peers: Vec<usize> = self.members().peers().collect();
        for peer in peers {
            self.send_to_member(peer, Payload::Peer(PeerMsg::RequestVote(request.clone())));
        }
    }

    /// Whether this node believes a leader is alive: then it refuses pre-votes.
    fn leader_is_alive(&self, now: Millis) -> bool {
        self.is_leader()
            || (self.leader.is_some()
                && now.since(self.leader_contact) < self.config.election_timeout_ms_min)
    }

    pub(super) fn start_election(&mut self, now: Millis) {
        if self.is_leader() {
            self.on_leadership_lost(now);
        }
        let me = self.me();
        self.set_term_and_vote(self.durable.current_term + 1, Some(me));
        self.role = Role::Candidate {
            votes: self.own_vote_only(),
        };
        self.set_leader(None);
        self.arm_election_timer(now);
        if self.members().majority() == 1 {
            return self.become_leader(now);
        }
        self.ask_for_votes(self.durable.current_term, false);
    }

    /// Adopts a newer term seen in any message (§5.1) and follows it.
    pub(super) fn adopt_term(&mut self, now: Millis, term: u64) {
        assert!(term > self.durable.current_term, "terms only grow");
        self.set_term_and_vote(term, None);
        self.become_follower(now);
        self.set_leader(None);
    }

    pub(super) fn become_follower(&mut self, now: Millis) {
        if self.is_leader() {
            if self.durable.log.last_index() > self.commit_index {
                self.note(Event::LeaderDeposedWithUncommitted);
            }
            self.role = Role::Follower;
            self.set_leader(None);
            self.arm_election_timer(now);
            self.on_leadership_lost(now);
        }
        self.role = Role::Follower;
    }

    pub(super) fn on_request_vote(&mut self, now: Millis, from: usize, request: RequestVote) {
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
            self.adopt_term(now, request.term);
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

    pub(super) fn on_request_vote_ok(&mut self, now: Millis, from: usize, reply: RequestVoteOk) {
        let majority = self.members().majority();
        if reply.pre_vote {
            let asked_term = self.durable.current_term + 1;
            if let Role::PreCandidate { votes } = &mut self.role {
                if reply.vote_granted && reply.term == asked_term {
                    votes[from] = true;
                    if votes.iter().filter(|&&v| v).count() >= majority {
                        self.start_election(now);
                    }
                    return;
                }
            }
            if !reply.vote_granted && reply.term > self.durable.current_term {
                self.adopt_term(now, reply.term);
            }
            return;
        }
        if reply.term > self.durable.current_term {
            return self.adopt_term(now, reply.term);
        }
        let current = reply.term == self.durable.current_term;
        if let Role::Candidate { votes } = &mut self.role {
            if current && reply.vote_granted {
                votes[from] = true;
                if votes.iter().filter(|&&v| v).count() >= majority {
                    self.become_leader(now);
                }
            }
        }
    }

    fn become_leader(&mut self, now: Millis) {
        assert!(
            matches!(self.role, Role::Candidate { .. }),
            "only a candidate becomes leader"
        );
        assert_eq!(
            self.durable.voted_for.as_ref(),
            Some(&self.me()),
            "a leader voted for itself in its term"
        );
        self.note(Event::LeaderElected);
        let next_index = self.durable.log.last_index() + 1;
        self.role = Role::Leader(Leader {
            progress: Followers::new(self.members(), next_index, now),
            seq: 0,
            heartbeat_due: now,
            since: now,
            committed_in_term: false,
        });
        let me = self.members().me;
        self.set_leader(Some(me));
        // §8: a no-op of the new term lets the leader commit, and learn the
        // commit index, without waiting for a client write.
        let term = self.durable.current_term;
        self.append_to_log(Entry {
            term,
            command: Command::Noop,
            request: None,
        });
        self.advance_commit(now);
        self.broadcast_append(now);
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
}
