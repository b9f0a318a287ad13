//! What the serving layer does when leadership changes, and the replica's
//! callbacks ([`Application`]): reads still awaiting confirmation go back
//! to their origins when this node stops leading; waiting and forwarded
//! work moves to a new leader; reads arm and confirm with the leader's
//! rounds.

use super::ops::Stage;
use super::read_queue::ReplyTo;
use super::reply::not_leader;
use super::state::Serve;
use crate::raft::{Application, Raft};
use crate::time::Millis;

impl Application for Serve {
    fn leadership_lost(&mut self, raft: &mut Raft, now: Millis) {
        self.on_leadership_lost(raft, now);
    }

    fn committed_in_term(&mut self, raft: &mut Raft, now: Millis) {
        self.arm_index_reads(raft, now);
    }

    fn round_acknowledged(&mut self, raft: &mut Raft, now: Millis) {
        self.confirm_index_reads(raft, now);
    }

    fn snapshot_installed(&mut self, raft: &mut Raft, now: Millis) {
        self.install_snapshot(raft, now);
    }
}

impl Serve {
    /// Leadership is gone: hand reads still awaiting confirmation back to
    /// their origins so they retry with the next leader. Proposals stay: their
    /// entries may still commit under the next leader.
    fn on_leadership_lost(&mut self, raft: &mut Raft, now: Millis) {
        // A later term's leader proposes afresh; its entries decide.
        self.ops.proposed.clear();
        // Held writes never entered the log: they go to the next leader.
        self.ops.held_requests.clear();
        for held in std::mem::take(&mut self.ops.held) {
            self.hand_back(raft, now, held.reply_to);
        }
        for read in self.ops.reads.take_unconfirmed() {
            self.hand_back(raft, now, read.reply_to);
        }
    }

    /// Work this node can no longer do as leader goes back to whoever
    /// asked: an operation of its own waits for the next leader; an
    /// origin is told this node does not lead, and tries the next.
    fn hand_back(&mut self, raft: &mut Raft, now: Millis, reply_to: ReplyTo) {
        match reply_to {
            ReplyTo::Local(id) => {
                if let Some(pending) = self.ops.pending.get_mut(&id) {
                    pending.stage = Stage::NeedLeader { retry_at: now };
                    self.ops.schedule(id);
                }
            }
            ReplyTo::Remote { .. } => self.respond(raft, reply_to, not_leader(raft.me())),
        }
    }

    /// A new leader is known (or none is): move waiting and forwarded work to it.
    pub(crate) fn reroute_on_leader_change(&mut self, raft: &mut Raft, now: Millis) {
        let leader = raft.leader_index();
        let movable: Vec<u64> = self
            .ops
            .pending
            .iter()
            .filter(|(_, p)| match p.stage {
                Stage::NeedLeader { .. } => leader.is_some(),
                Stage::Forwarded { to, .. } => Some(to) != leader,
                Stage::WaitApply { .. } | Stage::Leading => false,
            })
            .map(|(&id, _)| id)
            .collect();
        for id in movable {
            self.route_to_leader(raft, now, id);
        }
    }
}
