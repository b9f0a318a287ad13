//! Role changes (Raft §5.2): starting an election, adopting a newer term,
//! following, and taking the lead, each with what must happen as the role
//! changes (the election timer, the vote, the new leader's no-op, telling
//! the application that leadership was lost).

use rand::Rng;

use super::progress::Followers;
use super::state::{Application, Leader, Raft, Role};
use crate::events::Event;
use crate::message::*;
use crate::time::Millis;

impl Raft {
    pub(super) fn arm_election_timer(&mut self, now: Millis) {
        let ms = self.rng.random_range(
            self.config.election_timeout_ms_min..=self.config.election_timeout_ms_max,
        );
        self.election_deadline = now.plus(ms);
    }

    /// A vote table holding this node's own vote only.
    pub(super) fn own_vote_only(&self) -> Vec<bool> {
        let mut votes = vec![false; self.members().ids.len()];
        votes[self.members().me] = true;
        votes
    }

    /// Sends RequestVote for `term` to every peer, with this node's last
    /// log position (the election restriction, §5.4.1).
    pub(super) fn ask_for_votes(&mut self, term: u64, pre_vote: bool) {
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

    pub(super) fn start_election(&mut self, now: Millis, app: &mut impl Application) {
        if self.is_leader() {
            app.leadership_lost(self, now);
        }
        let me = self.me();
        self.set_term_and_vote(self.durable.current_term + 1, Some(me));
        self.role = Role::Candidate {
            votes: self.own_vote_only(),
        };
        self.set_leader(None);
        self.arm_election_timer(now);
        if self.members().majority() == 1 {
            return self.become_leader(now, app);
        }
        self.ask_for_votes(self.durable.current_term, false);
    }

    /// Adopts a newer term seen in any message (§5.1) and follows it.
    pub(super) fn adopt_term(&mut self, now: Millis, term: u64, app: &mut impl Application) {
        assert!(term > self.durable.current_term, "terms only grow");
        self.set_term_and_vote(term, None);
        self.become_follower(now, app);
        self.set_leader(None);
    }

    pub(super) fn become_follower(&mut self, now: Millis, app: &mut impl Application) {
        if self.is_leader() {
            if self.durable.log.last_index() > self.commit_index {
                self.note(Event::LeaderDeposedWithUncommitted);
            }
            self.role = Role::Follower;
            self.set_leader(None);
            self.arm_election_timer(now);
            app.leadership_lost(self, now);
        }
        self.role = Role::Follower;
    }

    pub(super) fn become_leader(&mut self, now: Millis, app: &mut impl Application) {
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
            append_due: None,
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
        self.advance_commit(now, app);
        self.start_round(now);
    }
}
