//! Reads at the leader (Raft §8, thesis §6.4): a linearizable read, or a
//! forwarded `ryw_read` whose token is not yet applied here, first waits
//! for a leadership round a majority acknowledges, then for its index to be
//! applied, and is answered from the applied state. The queue itself is
//! `read_queue.rs`.

use super::read_queue::{ApplyRead, IndexRead, ReadKind, ReplyTo};
use super::reply::not_leader;
use super::state::Serve;
use crate::data::Key;
use crate::events::Event;
use crate::message::*;
use crate::raft::{Leadership, Raft};
use crate::time::Millis;

impl Serve {
    /// ReadIndex (Raft §8): note the commit index, then wait until a majority
    /// acknowledges a heartbeat sent after that.
    pub(super) fn register_index_read(
        &mut self,
        raft: &mut Raft,
        now: Millis,
        key: Key,
        kind: ReadKind,
        reply_to: ReplyTo,
        deadline: Millis,
    ) {
        let (read_index, seq_needed) = match raft.leadership() {
            Leadership::None => return self.respond(raft, reply_to, not_leader(raft.me())),
            Leadership::Unproven => (0, 0),
            Leadership::Current {
                commit_index,
                next_round,
            } => (commit_index, next_round),
        };
        let read = IndexRead {
            key,
            kind,
            reply_to,
            deadline,
            read_index,
            seq_needed,
        };
        self.ops.reads.wait_for_round(read);
        if seq_needed > 0 {
            raft.start_round(now);
            self.confirm_index_reads(raft, now);
        }
    }

    /// Called when the leader first commits in its term: reads that waited for
    /// a trustworthy commit index can start their confirmation round.
    pub(super) fn arm_index_reads(&mut self, raft: &mut Raft, now: Millis) {
        let Leadership::Current {
            commit_index,
            next_round,
        } = raft.leadership()
        else {
            return;
        };
        // The reads waited for this commit: only a round started after they
        // arrived proves the leader still leads since then.
        let round = if raft.config().planted.read_index_old_round {
            next_round - 1
        } else {
            next_round
        };
        if self.ops.reads.arm(commit_index, round) {
            raft.note(Event::ReadsArmedAtFirstCommit);
            raft.start_round(now);
            self.confirm_index_reads(raft, now);
        }
    }

    /// Moves reads whose leadership round a majority acknowledged on to apply.
    pub(super) fn confirm_index_reads(&mut self, raft: &mut Raft, now: Millis) {
        if !raft.is_leader() {
            return;
        }
        let confirmed = self
            .ops
            .reads
            .take_confirmed(|seq| raft.round_confirmed(seq));
        if confirmed.is_empty() {
            return;
        }
        for read in confirmed {
            let index = match read.kind {
                ReadKind::Linearizable => {
                    raft.note(Event::LinearizableReadConfirmed);
                    read.read_index
                }
                ReadKind::Ryw { token, .. } if token <= raft.commit_index() => token,
                ReadKind::Ryw { token, .. } => {
                    // This leader is current and has committed in its term, so
                    // every write acknowledged before the read arrived is at or
                    // below its commit index. A larger token was never handed out.
                    let text = beyond_committed_text(token, raft);
                    let error = OpResult::error(ErrorCode::PRECONDITION_FAILED, text);
                    self.respond(raft, read.reply_to, error);
                    continue;
                }
            };
            if index > self.kv.applied_index() {
                raft.note(Event::ReadWaitedForApplyAtLeader);
            }
            self.ops.reads.wait_for_apply(ApplyRead {
                index,
                key: read.key,
                kind: read.kind,
                reply_to: read.reply_to,
                deadline: read.deadline,
            });
        }
        self.serve_applied_reads(raft, now);
    }

    /// Serves every read whose index is now applied: leader-side reads and
    /// the origin's own waiting `ryw_read`s.
    pub(super) fn serve_applied_reads(&mut self, raft: &mut Raft, now: Millis) {
        let applied = self.kv.applied_index();
        for read in self.ops.reads.take_applied(applied) {
            self.deliver_read(raft, now, &read.key, read.kind, read.reply_to);
        }
        let mut ready = Vec::new();
        while let Some(&(token, id)) = self.ops.waiting_apply.first() {
            #[cfg(test)]
            crate::work::count();
            if token > applied {
                break;
            }
            ready.push(id);
            self.ops.waiting_apply.pop_first();
            raft.note(Event::FollowerReadWaitedThenServed);
        }
        ready.sort_unstable();
        for id in ready {
            self.serve_ryw_locally(raft, now, id);
        }
    }

    /// Answers a read from the applied state (the caller checked the index).
    pub(super) fn deliver_read(
        &mut self,
        raft: &mut Raft,
        now: Millis,
        key: &Key,
        kind: ReadKind,
        reply_to: ReplyTo,
    ) {
        let result = match kind {
            ReadKind::Linearizable => match self.kv.get(key) {
                Some(stored) => OpResult::ReadOk {
                    value: stored.value.clone(),
                },
                None => OpResult::error(
                    ErrorCode::KEY_DOES_NOT_EXIST,
                    format!("key {key} does not exist"),
                ),
            },
            ReadKind::Ryw { reason, .. } => {
                let how = match reply_to {
                    ReplyTo::Local(id) => match self.ops.pending.get(&id) {
                        Some(pending) => Served::Locally {
                            waited_ms: now.since(pending.arrived),
                        },
                        None => return,
                    },
                    ReplyTo::Remote { .. } => {
                        raft.note(Event::LeaderServedForwardedRywRead);
                        Served::Redirected {
                            reason: reason.unwrap_or(Redirect::FollowerBehind),
                        }
                    }
                };
                OpResult::RywReadOk {
                    value: self.value_of(key),
                    served_by: raft.me(),
                    applied_index: self.kv.applied_index(),
                    how,
                }
            }
        };
        self.respond(raft, reply_to, result);
    }
}

/// Why a `ryw_read` whose token is past the commit index of a current
/// leader is refused. Built by hand, not by `format!`: a flood of such
/// tokens (`ryw-node`'s speed input with `--data-dir`, where a read comes
/// before its write is durable) spent 1,500 instructions a read on it.
fn beyond_committed_text(token: u64, raft: &Raft) -> String {
    use crate::decimal::write_u64;
    let mut text = String::with_capacity(96);
    text.push_str("last_write_index ");
    write_u64(&mut text, token);
    text.push_str(" is beyond every committed entry: leader ");
    raft.me().push_to(&mut text);
    text.push_str(" (term ");
    write_u64(&mut text, raft.term());
    text.push_str(") has committed up to ");
    write_u64(&mut text, raft.commit_index());
    text
}
