//! A client's request from arrival to deadline: a `ryw_read` is served,
//! waits or goes to the leader as `ryw_decision.rs` decides; everything
//! else goes to the leader; and every deadline, wait bound and retry that
//! falls due is acted on.

use super::ops::{Pending, Stage};
use super::reply::timeout_result;
use super::ryw_decision::{decide, RywDecision};
use super::state::Serve;
use crate::events::Event;
use crate::id::Id;
use crate::message::*;
use crate::raft::Raft;
use crate::time::Millis;

impl Serve {
    pub(crate) fn on_client_request(
        &mut self,
        raft: &mut Raft,
        now: Millis,
        client: Id,
        msg_id: Option<u64>,
        op: ClientOp,
    ) {
        let Some(msg_id) = msg_id else {
            // Maelstrom: a message without msg_id expects no reply, and a
            // reply to nothing would only confuse its sender.
            let text = format!(
                "ignoring {} from {client}: no msg_id, so no reply is expected",
                op.type_name()
            );
            return raft.warn(text);
        };
        let id = self.ops.take_op_id();
        let mut pending = Pending {
            client,
            msg_id,
            arrived: now,
            deadline: now.plus(raft.config().request_timeout_ms),
            op,
            stage: Stage::Leading,
            redirect: None,
            handed_off: false,
        };
        if let ClientOp::RywRead {
            last_write_index,
            prefer_follower,
            ..
        } = pending.op
        {
            let applied_index = self.kv.applied_index();
            match decide(
                applied_index,
                last_write_index,
                prefer_follower,
                raft.is_leader(),
            ) {
                RywDecision::ServeHere => {
                    if !raft.is_leader() {
                        raft.note(Event::FollowerReadServedAtOnce);
                    }
                    self.ops.pending.insert(id, pending);
                    return self.serve_ryw_locally(raft, now, id);
                }
                RywDecision::WaitForApply => {
                    pending.stage = Stage::WaitApply {
                        until: now.plus(raft.config().ryw_wait_ms_max),
                    };
                    self.ops.waiting_apply.insert((last_write_index, id));
                    self.ops.pending.insert(id, pending);
                    self.ops.schedule(id);
                    return raft.want_commit(last_write_index);
                }
                RywDecision::ToLeader { leader_requested } => {
                    if leader_requested {
                        pending.redirect = Some(Redirect::LeaderRequested);
                        raft.note(Event::ReadSentToLeaderByClient);
                    }
                }
            }
        }
        self.ops.pending.insert(id, pending);
        self.route_to_leader(raft, now, id);
    }

    /// Deadlines, wait bounds and retries that are due: only those, found
    /// through the timer heap.
    pub(crate) fn expire_ops(&mut self, raft: &mut Raft, now: Millis) {
        let (due, indexes) = self.ops.take_due(now);
        for id in due {
            let Some(pending) = self.ops.pending.get_mut(&id) else {
                continue;
            };
            if now >= pending.deadline {
                let mut result = timeout_result(pending, raft.config().request_timeout_ms);
                if matches!(&result, OpResult::Error { code, .. } if *code == ErrorCode::TIMEOUT) {
                    raft.note(Event::RequestTimedOutIndeterminate);
                }
                if let (OpResult::Error { text, .. }, Some(why)) =
                    (&mut result, raft.persist_failure())
                {
                    text.push_str(&format!("; this node cannot write its log: {why}"));
                }
                self.finish(raft, id, result);
            } else {
                match pending.stage {
                    Stage::WaitApply { .. } => {
                        pending.redirect = Some(Redirect::FollowerBehind);
                        raft.note(Event::FollowerReadWaitedThenRedirected);
                    }
                    Stage::Forwarded { .. } => raft.note(Event::ForwardSentAgain),
                    Stage::Leading | Stage::NeedLeader { .. } => {}
                }
                self.route_to_leader(raft, now, id);
            }
        }
        // Leader-side work for others ends at its deadline; the origin answers.
        for index in indexes {
            if let Some(waiters) = self.ops.commit_waiters.get_mut(&index) {
                waiters.retain(|w| w.deadline > now);
                if waiters.is_empty() {
                    self.ops.commit_waiters.remove(&index);
                }
            }
        }
        self.ops.reads.expire(now);
    }
}
