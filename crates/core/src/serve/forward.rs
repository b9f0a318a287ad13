//! Forwarding: an operation goes to the leader (run here if this node
//! leads, sent there otherwise, or held until a leader is known), the
//! leader runs what origins forwarded, and the origin takes the answer.

use super::ops::Stage;
use super::read_queue::ReplyTo;
use super::reply::{is_refusal, not_leader};
use super::state::Serve;
use crate::message::*;
use crate::raft::Raft;
use crate::time::Millis;

impl Serve {
    /// Runs a pending op here if this node leads, else forwards it to the leader.
    pub(super) fn route_to_leader(&mut self, raft: &mut Raft, now: Millis, id: u64) {
        self.ops.leave_wait_apply(id);
        let me = raft.me_index();
        let Some(pending) = self.ops.pending.get_mut(&id) else {
            return;
        };
        match raft.leader_index() {
            Some(leader) if leader == me => {
                pending.stage = Stage::Leading;
                pending.handed_off = true;
                let (op, reason, deadline) =
                    (pending.op.clone(), pending.redirect, pending.deadline);
                self.lead(raft, now, ReplyTo::Local(id), op, reason, deadline);
            }
            Some(leader) => {
                pending.stage = Stage::Forwarded {
                    to: leader,
                    retry_at: now.plus(raft.config().forward_retry_ms),
                };
                pending.handed_off = true;
                let forward = Forward {
                    fwd_id: id,
                    op: pending.op.clone(),
                    reason: pending.redirect,
                };
                raft.send_to_member(leader, Payload::Peer(PeerMsg::Forward(forward)));
            }
            None => {
                pending.stage = Stage::NeedLeader {
                    retry_at: now.plus(raft.config().heartbeat_interval_ms),
                };
            }
        }
        self.ops.schedule(id);
    }

    pub(crate) fn on_forward(
        &mut self,
        raft: &mut Raft,
        now: Millis,
        from: usize,
        forward: Forward,
    ) {
        let reply_to = ReplyTo::Remote {
            node: from,
            fwd_id: forward.fwd_id,
        };
        if !raft.is_leader() {
            return self.respond(raft, reply_to, not_leader(raft.me()));
        }
        let deadline = now.plus(raft.config().request_timeout_ms);
        self.lead(raft, now, reply_to, forward.op, forward.reason, deadline);
    }

    pub(crate) fn on_forward_ok(&mut self, raft: &mut Raft, now: Millis, reply: ForwardOk) {
        if let Some(commit) = reply.commit {
            raft.hear_commit(commit);
        }
        let Some(pending) = self.ops.pending.get_mut(&reply.fwd_id) else {
            return; // answered or expired already
        };
        if is_refusal(&reply.result) {
            // Definitely not done (e.g. the node was not leader): try again
            // once the leader is known better.
            if matches!(pending.stage, Stage::Forwarded { .. }) {
                pending.stage = Stage::NeedLeader {
                    retry_at: now.plus(raft.config().heartbeat_interval_ms),
                };
                self.ops.schedule(reply.fwd_id);
            }
            return;
        }
        self.finish(raft, reply.fwd_id, reply.result);
    }
}
