//! Answers: to the client a pending operation belongs to (once), or to
//! the origin node a leader ran it for, and what each outcome says. The
//! bottom of the serving layer's files: every other one answers through
//! here.

use super::ops::Stage;
use super::read_queue::ReplyTo;
use super::state::Serve;
use crate::data::{Key, Value};
use crate::id::Id;
use crate::kv::Applied;
use crate::message::*;
use crate::raft::Raft;
use crate::time::Millis;

impl Serve {
    pub(super) fn value_of(&self, key: &Key) -> Value {
        self.kv
            .get(key)
            .map_or(Value::NULL, |stored| stored.value.clone())
    }

    /// Serves a waiting `ryw_read` from this node's own state.
    pub(super) fn serve_ryw_locally(&mut self, raft: &mut Raft, now: Millis, id: u64) {
        let pending = &self.ops.pending[&id];
        let result = OpResult::RywReadOk {
            value: self.value_of(pending.op.key()),
            served_by: raft.me(),
            applied_index: self.kv.applied_index(),
            how: Served::Locally {
                waited_ms: now.since(pending.arrived),
            },
        };
        self.finish(raft, id, result);
    }

    /// Delivers a leader-side outcome to whoever asked.
    pub(super) fn respond(&mut self, raft: &mut Raft, reply_to: ReplyTo, result: OpResult) {
        match reply_to {
            ReplyTo::Local(id) if is_refusal(&result) && self.sent_again_later(id) => {}
            ReplyTo::Local(id) => self.finish(raft, id, result),
            ReplyTo::Remote { node, fwd_id } => {
                let commit = raft.known_committed();
                let answer = ForwardOk {
                    fwd_id,
                    result,
                    commit,
                };
                raft.send_to_member(node, Payload::Peer(PeerMsg::ForwardOk(answer)));
            }
        }
    }

    /// A write or cas refused here (this copy did not and will not take
    /// effect) may have other copies that still can: one forwarded before
    /// this node led, say. It is not answered with the refusal but sent
    /// again, at once; the state machine applies it once, and the deadline
    /// answers "may or may not" if nothing else does.
    fn sent_again_later(&mut self, id: u64) -> bool {
        let Some(pending) = self.ops.pending.get_mut(&id) else {
            return false;
        };
        if pending.op.is_read() {
            return false;
        }
        // Any past time: the next timer sends it.
        pending.stage = Stage::NeedLeader {
            retry_at: pending.arrived,
        };
        self.ops.schedule(id);
        true
    }

    /// Answers the client of a pending op, once.
    pub(super) fn finish(&mut self, raft: &mut Raft, id: u64, result: OpResult) {
        self.ops.leave_wait_apply(id);
        if let Some(pending) = self.ops.pending.remove(&id) {
            raft.send(pending.client, Some(pending.msg_id), Payload::Reply(result));
        }
    }
}

/// Whether an outcome says the operation surely did not take effect
/// where it was tried (not leader, entry replaced).
pub(super) fn is_refusal(result: &OpResult) -> bool {
    matches!(result, OpResult::Error { code, .. } if *code == ErrorCode::TEMPORARILY_UNAVAILABLE)
}

/// What a client hears of a write or cas applied at `index`.
pub(super) fn result_of(outcome: Applied, index: u64, cas: bool) -> OpResult {
    match outcome {
        Applied::CasRefused { key_missing: true } => {
            OpResult::error(ErrorCode::KEY_DOES_NOT_EXIST, "cas: key does not exist")
        }
        Applied::CasRefused { key_missing: false } => OpResult::error(
            ErrorCode::PRECONDITION_FAILED,
            "cas: current value differs from 'from'",
        ),
        _ if cas => OpResult::CasOk {
            commit_index: index,
        },
        _ => OpResult::WriteOk {
            commit_index: index,
        },
    }
}

pub(super) fn not_leader(me: Id) -> OpResult {
    OpResult::error(
        ErrorCode::TEMPORARILY_UNAVAILABLE,
        format!("{me} is not the leader"),
    )
}

/// What a client hears when its deadline passes: a write that left the
/// node's hands may have happened; anything else surely did not.
pub(super) fn timeout_result(pending: &super::ops::Pending, request_timeout_ms: u64) -> OpResult {
    if pending.handed_off && !pending.op.is_read() {
        OpResult::error(
            ErrorCode::TIMEOUT,
            format!(
                "{}: not acknowledged within {request_timeout_ms} ms; it may or may not take effect",
                pending.op.type_name()
            ),
        )
    } else {
        OpResult::error(
            ErrorCode::TEMPORARILY_UNAVAILABLE,
            format!(
                "{}: no leader could serve it within {request_timeout_ms} ms",
                pending.op.type_name()
            ),
        )
    }
}
