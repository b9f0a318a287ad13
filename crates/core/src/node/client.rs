//! Client operations: the read-your-writes read path (serve, wait, forward),
//! proposals, linearizable reads by ReadIndex, and forwarding to the leader.
//!
//! Two sides meet here. The node a client asked (the *origin*) owns a
//! [`Pending`] entry and alone answers the client, within one overall
//! deadline. The *leader* runs the operation for itself or for an origin
//! ([`ReplyTo`]) and reports the outcome back.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use super::read_index::{ApplyRead, IndexRead, ReadKind, ReadQueue, ReplyTo};
use super::{Node, Role};
use crate::data::{Key, Value};
use crate::events::Event;
use crate::id::Id;
use crate::kv::Applied;
use crate::message::*;
use crate::time::Millis;

#[derive(Default)]
pub(super) struct Ops {
    next_op_id: u64,
    /// Origin side: operations this node must answer, by op id.
    pending: BTreeMap<u64, Pending>,
    /// Leader side: proposals awaiting their entry's apply, by log index.
    /// One index can hold proposals of several terms: a leader whose entry
    /// was overwritten may lead again and propose at the same index. The
    /// entry that commits there decides them all.
    commit_waiters: BTreeMap<u64, Vec<CommitWaiter>>,
    /// Origin side: the `ryw_read`s in `Stage::WaitApply`, by (token, op
    /// id), so that an apply finds the reads it unblocks without walking
    /// every pending op. Entered where a read starts to wait
    /// (`on_client_request`), left in `leave_wait_apply`, which every way
    /// out of the stage passes (`route_to_leader`, `finish`).
    waiting_apply: BTreeSet<(u64, u64)>,
    /// Leader side: reads awaiting their leadership round, then their apply.
    reads: ReadQueue,
    /// Leader side, this term: where each request not yet applied was
    /// proposed, (index, term), so that a copy sent again waits for that
    /// entry instead of adding one.
    proposed: BTreeMap<RequestId, (u64, u64)>,
    /// When each pending op and commit waiter next needs attention, soonest
    /// first, so that a step looks at what is due rather than at every op
    /// (thousands wait at a busy leader). An entry is pushed whenever a
    /// time is set; one whose op has moved on since is stale and dropped
    /// when it comes up ([`Ops::prune_timers`]).
    timers: BinaryHeap<Reverse<(Millis, Timer)>>,
}

/// What a timer entry is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// A pending op, by id: its deadline or its stage's time.
    Op(u64),
    /// The commit waiters at a log index: their deadlines.
    Waiters(u64),
}

struct Pending {
    client: Id,
    msg_id: u64,
    arrived: Millis,
    deadline: Millis,
    op: ClientOp,
    stage: Stage,
    /// Why a `ryw_read` goes to the leader, once it does.
    redirect: Option<Redirect>,
    /// Whether a write left this node's hands: then a timeout is indeterminate.
    handed_off: bool,
}

#[derive(Clone, Copy)]
enum Stage {
    /// `ryw_read` waiting for local apply to reach its token, at most until `until`.
    WaitApply { until: Millis },
    /// Run by this node's own leader machinery.
    Leading,
    /// Waiting to learn a leader.
    NeedLeader { retry_at: Millis },
    /// Sent to the leader `to`; sent again at `retry_at` until answered
    /// (the state machine applies a request once, however often it is sent).
    Forwarded { to: usize, retry_at: Millis },
}

struct CommitWaiter {
    term: u64,
    cas: bool,
    reply_to: ReplyTo,
    deadline: Millis,
}

impl Ops {
    /// Operation ids carry the node's incarnation in their high half and a
    /// count in their low half, so a restarted node, even one whose disk was
    /// wiped, never reuses an id an earlier life forwarded.
    pub(super) fn starting_at(incarnation: u32) -> Ops {
        Ops {
            next_op_id: u64::from(incarnation) << 32,
            ..Ops::default()
        }
    }

    /// The next operation id. After 2^32 operations in one life the count
    /// moves on to the next incarnation number rather than wrap onto ids
    /// this life already gave out.
    fn take_op_id(&mut self) -> u64 {
        let id = self.next_op_id;
        self.next_op_id = if id & u64::from(u32::MAX) == u64::from(u32::MAX) {
            u64::from(((id >> 32) as u32).wrapping_add(1)) << 32
        } else {
            id + 1
        };
        id
    }

    /// The earliest moment any client operation needs attention. The
    /// timer heap's top is current: every `&mut` entry point of the node
    /// ends by pruning it.
    pub(super) fn next_timer(&self) -> Option<Millis> {
        let ops = self.timers.peek().map(|Reverse((at, _))| *at);
        ops.into_iter().chain(self.reads.next_deadline()).min()
    }

    /// Op `id` no longer waits for its token to be applied here (it is
    /// served, or goes to the leader), if it did.
    fn leave_wait_apply(&mut self, id: u64) {
        if let Some(Pending {
            stage: Stage::WaitApply { .. },
            op: ClientOp::RywRead {
                last_write_index, ..
            },
            ..
        }) = self.pending.get(&id)
        {
            self.waiting_apply.remove(&(*last_write_index, id));
        }
    }

    /// Notes op `id`'s current time (after it arrived or changed stage).
    fn schedule(&mut self, id: u64) {
        if let Some(p) = self.pending.get(&id) {
            self.timers.push(Reverse((p.due_at(), Timer::Op(id))));
        }
    }

    /// Whether a timer entry still describes what it was pushed for.
    fn is_current(&self, at: Millis, timer: Timer) -> bool {
        match timer {
            Timer::Op(id) => self.pending.get(&id).is_some_and(|p| p.due_at() == at),
            Timer::Waiters(index) => self
                .commit_waiters
                .get(&index)
                .is_some_and(|waiters| waiters.iter().any(|w| w.deadline == at)),
        }
    }

    /// Drops stale entries from the top of the timer heap, so that its top
    /// is the soonest time anything needs.
    pub(super) fn prune_timers(&mut self) {
        self.reads.prune();
        while let Some(&Reverse((at, timer))) = self.timers.peek() {
            if self.is_current(at, timer) {
                return;
            }
            self.timers.pop();
        }
    }

    /// Takes the entries due at `now`: the ops due, in id order, each
    /// once, and the indexes whose commit waiters may have expired.
    fn take_due(&mut self, now: Millis) -> (Vec<u64>, Vec<u64>) {
        let (mut ops, mut indexes) = (Vec::new(), Vec::new());
        while let Some(&Reverse((at, timer))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Op(id) if self.is_current(at, timer) => ops.push(id),
                Timer::Op(_) => {}
                Timer::Waiters(index) => indexes.push(index),
            }
        }
        ops.sort_unstable();
        ops.dedup();
        (ops, indexes)
    }
}

impl Pending {
    /// When this op next needs attention: its deadline, or sooner its
    /// stage's wait bound or retry.
    fn due_at(&self) -> Millis {
        let stage = match self.stage {
            Stage::WaitApply { until } => until,
            Stage::NeedLeader { retry_at } => retry_at,
            Stage::Forwarded { retry_at, .. } => retry_at,
            Stage::Leading => self.deadline,
        };
        stage.min(self.deadline)
    }
}

impl Node {
    pub(super) fn on_client_request(
        &mut self,
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
            return self.warn(text);
        };
        let id = self.ops.take_op_id();
        let mut pending = Pending {
            client,
            msg_id,
            arrived: now,
            deadline: now.plus(self.config.request_timeout_ms),
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
            if self.kv.applied_index() >= last_write_index && (prefer_follower || self.is_leader())
            {
                if !self.is_leader() {
                    self.note(Event::FollowerReadServedAtOnce);
                }
                self.ops.pending.insert(id, pending);
                return self.serve_ryw_locally(now, id);
            }
            if prefer_follower && !self.is_leader() {
                pending.stage = Stage::WaitApply {
                    until: now.plus(self.config.ryw_wait_ms_max),
                };
                self.ops.waiting_apply.insert((last_write_index, id));
                self.ops.pending.insert(id, pending);
                self.ops.schedule(id);
                return self.want_commit(last_write_index);
            }
            if !self.is_leader() {
                pending.redirect = Some(Redirect::LeaderRequested);
                self.note(Event::ReadSentToLeaderByClient);
            }
            // A leader behind the token needs no local wait: its own read path
            // waits for apply, or fails fast when no write can have that index.
        }
        self.ops.pending.insert(id, pending);
        self.route_to_leader(now, id);
    }

    /// Serves a waiting `ryw_read` from this node's own state.
    fn serve_ryw_locally(&mut self, now: Millis, id: u64) {
        let pending = &self.ops.pending[&id];
        let result = OpResult::RywReadOk {
            value: self.value_of(pending.op.key()),
            served_by: self.me(),
            applied_index: self.kv.applied_index(),
            how: Served::Locally {
                waited_ms: now.since(pending.arrived),
            },
        };
        self.finish(id, result);
    }

    fn value_of(&self, key: &Key) -> Value {
        self.kv
            .get(key)
            .map_or(Value::NULL, |stored| stored.value.clone())
    }

    /// Runs a pending op here if this node leads, else forwards it to the leader.
    fn route_to_leader(&mut self, now: Millis, id: u64) {
        self.ops.leave_wait_apply(id);
        let me = self.members().me;
        let Some(pending) = self.ops.pending.get_mut(&id) else {
            return;
        };
        match self.leader {
            Some(leader) if leader == me => {
                pending.stage = Stage::Leading;
                pending.handed_off = true;
                let (op, reason, deadline) =
                    (pending.op.clone(), pending.redirect, pending.deadline);
                self.lead(now, ReplyTo::Local(id), op, reason, deadline);
            }
            Some(leader) => {
                pending.stage = Stage::Forwarded {
                    to: leader,
                    retry_at: now.plus(self.config.forward_retry_ms),
                };
                pending.handed_off = true;
                let forward = Forward {
                    fwd_id: id,
                    op: pending.op.clone(),
                    reason: pending.redirect,
                };
                self.send_to_member(leader, Payload::Peer(PeerMsg::Forward(forward)));
            }
            None => {
                pending.stage = Stage::NeedLeader {
                    retry_at: now.plus(self.config.heartbeat_interval_ms),
                };
            }
        }
        self.ops.schedule(id);
    }

    /// The leader runs an operation for `reply_to`.
    fn lead(
        &mut self,
        now: Millis,
        reply_to: ReplyTo,
        op: ClientOp,
        reason: Option<Redirect>,
        deadline: Millis,
    ) {
        debug_assert!(self.is_leader());
        let op = match op.into_command() {
            Ok(command) => {
                let cas = matches!(command, Command::Cas { .. });
                // Every proposal names its request, so the state machine
                // applies it once however often its origin sends it (an
                // origin re-sends a forwarded operation until it hears an
                // answer, and may end up leading it itself).
                let request = Some(match reply_to {
                    ReplyTo::Remote { node, fwd_id } => RequestId {
                        origin: self.members().ids[node].clone(),
                        id: fwd_id,
                    },
                    ReplyTo::Local(id) => RequestId {
                        origin: self.me(),
                        id,
                    },
                });
                return self.propose(now, command, request, cas, reply_to, deadline);
            }
            Err(read) => read,
        };
        match op {
            ClientOp::Read { key } => {
                self.register_index_read(now, key, ReadKind::Linearizable, reply_to, deadline)
            }
            ClientOp::RywRead {
                key,
                last_write_index: token,
                ..
            } => {
                let kind = ReadKind::Ryw { token, reason };
                if self.kv.applied_index() >= token {
                    self.deliver_read(now, &key, kind, reply_to);
                } else if token <= self.commit_index {
                    let read = ApplyRead {
                        index: token,
                        key,
                        kind,
                        reply_to,
                        deadline,
                    };
                    self.note(Event::ReadWaitedForApplyAtLeader);
                    self.ops.reads.wait_for_apply(read);
                } else {
                    // Beyond the commit index: either the token is not yet
                    // committed here, or no acknowledged write has it. Confirm
                    // leadership first, then decide (see `confirm_index_reads`).
                    self.register_index_read(now, key, kind, reply_to, deadline);
                }
            }
            ClientOp::Write { .. } | ClientOp::Cas { .. } => unreachable!("proposed above"),
        }
    }

    fn propose(
        &mut self,
        now: Millis,
        command: Command,
        request: Option<RequestId>,
        cas: bool,
        reply_to: ReplyTo,
        deadline: Millis,
    ) {
        if let Some(request) = &request {
            if let Some((index, first)) = self.kv.first_application(request) {
                // Applied already (an earlier answer was lost): say again
                // what the first copy did.
                self.reached.note(Event::DuplicateAnsweredFromFilter);
                let result = result_of(Applied::from(first), index, cas);
                return self.respond(reply_to, result);
            }
            if let Some(&(index, term)) = self.ops.proposed.get(request) {
                if self.durable.log.term_at(index) == Some(term) {
                    // Proposed and still in the log: wait for that entry.
                    let waiters = self.ops.commit_waiters.entry(index).or_default();
                    if !waiters.iter().any(|w| w.reply_to == reply_to) {
                        waiters.push(CommitWaiter {
                            term,
                            cas,
                            reply_to,
                            deadline,
                        });
                        let timer = Reverse((deadline, Timer::Waiters(index)));
                        self.ops.timers.push(timer);
                    }
                    return;
                }
            }
        }
        let term = self.durable.current_term;
        let index = self.durable.log.last_index() + 1;
        if let Some(request) = &request {
            self.ops.proposed.insert(request.clone(), (index, term));
        }
        self.append_to_log(Entry {
            term,
            command,
            request,
        });
        let waiter = CommitWaiter {
            term,
            cas,
            reply_to,
            deadline,
        };
        let waiters = self.ops.commit_waiters.entry(index).or_default();
        assert!(
            waiters.iter().all(|w| w.term != term),
            "one proposal per (index, term): a leader appends each index once"
        );
        waiters.push(waiter);
        self.ops
            .timers
            .push(Reverse((deadline, Timer::Waiters(index))));
        self.advance_commit(now);
        self.replicate(now);
    }

    /// ReadIndex (Raft §8): note the commit index, then wait until a majority
    /// acknowledges a heartbeat sent after that.
    fn register_index_read(
        &mut self,
        now: Millis,
        key: Key,
        kind: ReadKind,
        reply_to: ReplyTo,
        deadline: Millis,
    ) {
        let Role::Leader(leader) = &self.role else {
            return self.respond(reply_to, not_leader(self.me()));
        };
        let mut read = IndexRead {
            key,
            kind,
            reply_to,
            deadline,
            read_index: 0,
            seq_needed: 0,
        };
        if leader.committed_in_term {
            read.read_index = self.commit_index;
            read.seq_needed = leader.seq + 1;
            self.ops.reads.wait_for_round(read);
            self.broadcast_append(now);
            self.confirm_index_reads(now);
        } else {
            self.ops.reads.wait_for_round(read);
        }
    }

    /// Called when the leader first commits in its term: reads that waited for
    /// a trustworthy commit index can start their confirmation round.
    pub(super) fn arm_index_reads(&mut self, now: Millis) {
        let Role::Leader(leader) = &self.role else {
            return;
        };
        if self.ops.reads.arm(self.commit_index, leader.seq + 1) {
            self.broadcast_append(now);
            self.confirm_index_reads(now);
        }
    }

    /// Moves reads whose leadership round a majority acknowledged on to apply.
    pub(super) fn confirm_index_reads(&mut self, now: Millis) {
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let confirmed = self
            .ops
            .reads
            .take_confirmed(|seq| leader.progress.acked_by_majority(seq));
        if confirmed.is_empty() {
            return;
        }
        for read in confirmed {
            let index = match read.kind {
                ReadKind::Linearizable => {
                    self.note(Event::LinearizableReadConfirmed);
                    read.read_index
                }
                ReadKind::Ryw { token, .. } if token <= self.commit_index => token,
                ReadKind::Ryw { token, .. } => {
                    // This leader is current and has committed in its term, so
                    // every write acknowledged before the read arrived is at or
                    // below its commit index. A larger token was never handed out.
                    let text = format!(
                        "last_write_index {token} is beyond every committed entry: leader {} \
                         (term {}) has committed up to {}",
                        self.me(),
                        self.durable.current_term,
                        self.commit_index
                    );
                    let error = OpResult::error(ErrorCode::PRECONDITION_FAILED, text);
                    self.respond(read.reply_to, error);
                    continue;
                }
            };
            if index > self.kv.applied_index() {
                self.note(Event::ReadWaitedForApplyAtLeader);
            }
            self.ops.reads.wait_for_apply(ApplyRead {
                index,
                key: read.key,
                kind: read.kind,
                reply_to: read.reply_to,
                deadline: read.deadline,
            });
        }
        self.serve_applied_reads(now);
    }

    /// Serves every read whose index is now applied: leader-side reads and
    /// the origin's own waiting `ryw_read`s.
    pub(super) fn serve_applied_reads(&mut self, now: Millis) {
        let applied = self.kv.applied_index();
        for read in self.ops.reads.take_applied(applied) {
            self.deliver_read(now, &read.key, read.kind, read.reply_to);
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
            self.reached.note(Event::FollowerReadWaitedThenServed);
        }
        ready.sort_unstable();
        for id in ready {
            self.serve_ryw_locally(now, id);
        }
    }

    /// Answers a read from the applied state (the caller checked the index).
    fn deliver_read(&mut self, now: Millis, key: &Key, kind: ReadKind, reply_to: ReplyTo) {
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
                        self.reached.note(Event::LeaderServedForwardedRywRead);
                        Served::Redirected {
                            reason: reason.unwrap_or(Redirect::FollowerBehind),
                        }
                    }
                };
                OpResult::RywReadOk {
                    value: self.value_of(key),
                    served_by: self.me(),
                    applied_index: self.kv.applied_index(),
                    how,
                }
            }
        };
        self.respond(reply_to, result);
    }

    /// Resolves the proposals waiting on the entry just applied at `index`.
    pub(super) fn on_applied(
        &mut self,
        index: u64,
        term: u64,
        request: Option<&RequestId>,
        outcome: Applied,
    ) {
        if let Some(request) = request {
            self.ops.proposed.remove(request);
        }
        let Some(waiters) = self.ops.commit_waiters.remove(&index) else {
            return;
        };
        for waiter in waiters {
            let result = if waiter.term != term {
                // A different entry committed at this index, so this one never
                // can: each index commits exactly one entry.
                OpResult::error(
                    ErrorCode::TEMPORARILY_UNAVAILABLE,
                    format!(
                        "leadership changed: entry {index} of term {} was replaced by term {term}'s; \
                         the operation did not take effect",
                        waiter.term
                    ),
                )
            } else {
                // A copy sent again (its first answer may have been lost)
                // reports what the first copy did, at the first copy's index.
                match outcome {
                    Applied::Duplicate { index, first } => {
                        self.reached.note(Event::DuplicateAnsweredFromFilter);
                        result_of(first.into(), index, waiter.cas)
                    }
                    other => result_of(other, index, waiter.cas),
                }
            };
            self.respond(waiter.reply_to, result);
        }
    }

    pub(super) fn on_forward(&mut self, now: Millis, from: usize, forward: Forward) {
        let reply_to = ReplyTo::Remote {
            node: from,
            fwd_id: forward.fwd_id,
        };
        if !self.is_leader() {
            return self.respond(reply_to, not_leader(self.me()));
        }
        let deadline = now.plus(self.config.request_timeout_ms);
        self.lead(now, reply_to, forward.op, forward.reason, deadline);
    }

    pub(super) fn on_forward_ok(&mut self, now: Millis, reply: ForwardOk) {
        if let Some(commit) = reply.commit {
            self.hear_commit(commit);
        }
        let Some(pending) = self.ops.pending.get_mut(&reply.fwd_id) else {
            return; // answered or expired already
        };
        if is_refusal(&reply.result) {
            // Definitely not done (e.g. the node was not leader): try again
            // once the leader is known better.
            if matches!(pending.stage, Stage::Forwarded { .. }) {
                pending.stage = Stage::NeedLeader {
                    retry_at: now.plus(self.config.heartbeat_interval_ms),
                };
                self.ops.schedule(reply.fwd_id);
            }
            return;
        }
        self.finish(reply.fwd_id, reply.result);
    }

    /// Delivers a leader-side outcome to whoever asked.
    fn respond(&mut self, reply_to: ReplyTo, result: OpResult) {
        match reply_to {
            ReplyTo::Local(id) if is_refusal(&result) && self.sent_again_later(id) => {}
            ReplyTo::Local(id) => self.finish(id, result),
            ReplyTo::Remote { node, fwd_id } => {
                let commit = self.known_committed();
                let answer = ForwardOk {
                    fwd_id,
                    result,
                    commit,
                };
                self.send_to_member(node, Payload::Peer(PeerMsg::ForwardOk(answer)));
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
    fn finish(&mut self, id: u64, result: OpResult) {
        self.ops.leave_wait_apply(id);
        if let Some(pending) = self.ops.pending.remove(&id) {
            self.send(pending.client, Some(pending.msg_id), Payload::Reply(result));
        }
    }

    /// Leadership is gone: hand reads still awaiting confirmation back to
    /// their origins so they retry with the next leader. Proposals stay: their
    /// entries may still commit under the next leader.
    pub(super) fn on_leadership_lost(&mut self, now: Millis) {
        // A later term's leader proposes afresh; its entries decide.
        self.ops.proposed.clear();
        let reads = self.ops.reads.take_unconfirmed();
        let me = self.me();
        for read in reads {
            match read.reply_to {
                ReplyTo::Local(id) => {
                    if let Some(pending) = self.ops.pending.get_mut(&id) {
                        pending.stage = Stage::NeedLeader { retry_at: now };
                        self.ops.schedule(id);
                    }
                }
                ReplyTo::Remote { .. } => self.respond(read.reply_to, not_leader(me.clone())),
            }
        }
    }

    /// A new leader is known (or none is): move waiting and forwarded work to it.
    pub(super) fn reroute_on_leader_change(&mut self, now: Millis) {
        let leader = self.leader;
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
            self.route_to_leader(now, id);
        }
    }

    /// Deadlines, wait bounds and retries that are due: only those, found
    /// through the timer heap.
    pub(super) fn expire_ops(&mut self, now: Millis) {
        let (due, indexes) = self.ops.take_due(now);
        for id in due {
            let Some(pending) = self.ops.pending.get_mut(&id) else {
                continue;
            };
            if now >= pending.deadline {
                let mut result = timeout_result(pending, self.config.request_timeout_ms);
                if matches!(&result, OpResult::Error { code, .. } if *code == ErrorCode::TIMEOUT) {
                    self.reached.note(Event::RequestTimedOutIndeterminate);
                }
                if let (OpResult::Error { text, .. }, Some(why)) =
                    (&mut result, &self.persist.failure)
                {
                    text.push_str(&format!("; this node cannot write its log: {why}"));
                }
                self.finish(id, result);
            } else {
                match pending.stage {
                    Stage::WaitApply { .. } => {
                        pending.redirect = Some(Redirect::FollowerBehind);
                        self.reached.note(Event::FollowerReadWaitedThenRedirected);
                    }
                    Stage::Forwarded { .. } => self.reached.note(Event::ForwardSentAgain),
                    Stage::Leading | Stage::NeedLeader { .. } => {}
                }
                self.route_to_leader(now, id);
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

/// Whether an outcome says the operation surely did not take effect
/// where it was tried (not leader, entry replaced).
fn is_refusal(result: &OpResult) -> bool {
    matches!(result, OpResult::Error { code, .. } if *code == ErrorCode::TEMPORARILY_UNAVAILABLE)
}

/// What a client hears of a write or cas applied at `index`.
fn result_of(outcome: Applied, index: u64, cas: bool) -> OpResult {
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

fn not_leader(me: Id) -> OpResult {
    OpResult::error(
        ErrorCode::TEMPORARILY_UNAVAILABLE,
        format!("{me} is not the leader"),
    )
}

/// What a client hears when its deadline passes: a write that left the
/// node's hands may have happened; anything else surely did not.
fn timeout_result(pending: &Pending, request_timeout_ms: u64) -> OpResult {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(retry_at: u64) -> Pending {
        Pending {
            client: Id::Client(1),
            msg_id: 1,
            arrived: Millis(0),
            deadline: Millis(1000),
            op: ClientOp::Read { key: Key::Int(1) },
            stage: Stage::Forwarded {
                to: 1,
                retry_at: Millis(retry_at),
            },
            redirect: None,
            handed_off: true,
        }
    }

    // An op whose time moved later leaves its earlier entry behind; a node
    // woken late (after a pause) must not act on that entry early.
    #[test]
    fn a_timer_entry_an_op_has_moved_past_is_not_taken_as_due() {
        let mut ops = Ops::default();
        ops.pending.insert(7, forwarded(45));
        ops.schedule(7);
        ops.pending.insert(7, forwarded(260));
        ops.schedule(7);
        let (due, _) = ops.take_due(Millis(50));
        assert!(due.is_empty(), "due at 260, not 45: {due:?}");
        let (due, _) = ops.take_due(Millis(260));
        assert_eq!(due, [7]);
    }

    #[test]
    fn op_ids_move_to_the_next_incarnation_rather_than_wrap_onto_used_ones() {
        let mut ops = Ops::starting_at(7);
        assert_eq!(ops.take_op_id(), 7 << 32);
        assert_eq!(ops.take_op_id(), (7 << 32) + 1);
        ops.next_op_id = (7 << 32) | u64::from(u32::MAX - 1);
        assert_eq!(ops.take_op_id(), (7 << 32) | u64::from(u32::MAX - 1));
        assert_eq!(ops.take_op_id(), (7 << 32) | u64::from(u32::MAX));
        assert_eq!(ops.take_op_id(), 8 << 32, "the count moved on to life 8");
        assert_eq!(ops.take_op_id(), (8 << 32) + 1);
        ops.next_op_id = u64::MAX;
        assert_eq!(ops.take_op_id(), u64::MAX);
        assert_eq!(
            ops.take_op_id(),
            0,
            "the last incarnation wraps to the first"
        );
    }
}
