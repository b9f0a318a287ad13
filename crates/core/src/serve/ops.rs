//! The operations in flight, as data: those this node must answer (by op
//! id, each with its stage), the leader's commit waiters and reads, and the
//! timer heap that finds what is due without walking every operation.
//!
//! Two sides meet here. The node a client asked (the *origin*) owns a
//! [`Pending`] entry and alone answers the client, within one overall
//! deadline. The *leader* runs the operation for itself or for an origin
//! ([`ReplyTo`]) and reports the outcome back.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

use super::read_queue::{ReadQueue, ReplyTo};
use crate::id::Id;
use crate::message::{ClientOp, Command, Redirect, RequestId};
use crate::time::Millis;

#[derive(Default)]
pub(super) struct Ops {
    pub(super) next_op_id: u64,
    /// Origin side: operations this node must answer, by op id.
    pub(super) pending: BTreeMap<u64, Pending>,
    /// Leader side: proposals awaiting their entry's apply, by log index.
    /// One index can hold proposals of several terms: a leader whose entry
    /// was overwritten may lead again and propose at the same index. The
    /// entry that commits there decides them all.
    pub(super) commit_waiters: BTreeMap<u64, Vec<CommitWaiter>>,
    /// Origin side: the `ryw_read`s in `Stage::WaitApply`, by (token, op
    /// id), so that an apply finds the reads it unblocks without walking
    /// every pending op. Entered where a read starts to wait
    /// (`on_client_request`), left in `leave_wait_apply`, which every way
    /// out of the stage passes (`route_to_leader`, `finish`).
    pub(super) waiting_apply: BTreeSet<(u64, u64)>,
    /// Leader side: reads awaiting their leadership round, then their apply.
    pub(super) reads: ReadQueue,
    /// Leader side, this term: where each request not yet applied was
    /// proposed, (index, term), so that a copy sent again waits for that
    /// entry instead of adding one.
    pub(super) proposed: BTreeMap<RequestId, (u64, u64)>,
    /// Leader side: writes and cas waiting for the log's backlog to shrink
    /// before they are appended, in arrival order (see
    /// `Config::backlog_windows_max`), and their requests, so that a copy
    /// sent again joins once.
    pub(super) held: VecDeque<Proposal>,
    pub(super) held_requests: BTreeSet<RequestId>,
    /// When each pending op and commit waiter next needs attention, soonest
    /// first, so that a step looks at what is due rather than at every op
    /// (thousands wait at a busy leader). An entry is pushed whenever a
    /// time is set; one whose op has moved on since is stale and dropped
    /// when it comes up ([`Ops::prune_timers`]).
    pub(super) timers: BinaryHeap<Reverse<(Millis, Timer)>>,
}

/// What a timer entry is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// A pending op, by id: its deadline or its stage's time.
    Op(u64),
    /// The commit waiters at a log index: their deadlines.
    Waiters(u64),
}

pub(super) struct Pending {
    pub(super) client: Id,
    pub(super) msg_id: u64,
    pub(super) arrived: Millis,
    pub(super) deadline: Millis,
    pub(super) op: ClientOp,
    pub(super) stage: Stage,
    /// Why a `ryw_read` goes to the leader, once it does.
    pub(super) redirect: Option<Redirect>,
    /// Whether a write left this node's hands: then a timeout is indeterminate.
    pub(super) handed_off: bool,
}

#[derive(Clone, Copy)]
pub(super) enum Stage {
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

/// A write or cas for the leader to append: held back while its backlog
/// is full.
pub(super) struct Proposal {
    pub(super) command: Command,
    pub(super) request: RequestId,
    pub(super) reply_to: ReplyTo,
    pub(super) deadline: Millis,
}

pub(super) struct CommitWaiter {
    pub(super) term: u64,
    pub(super) cas: bool,
    pub(super) reply_to: ReplyTo,
    pub(super) deadline: Millis,
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
    pub(super) fn take_op_id(&mut self) -> u64 {
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
    pub(super) fn leave_wait_apply(&mut self, id: u64) {
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
    pub(super) fn schedule(&mut self, id: u64) {
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
    pub(super) fn take_due(&mut self, now: Millis) -> (Vec<u64>, Vec<u64>) {
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
    pub(super) fn due_at(&self) -> Millis {
        let stage = match self.stage {
            Stage::WaitApply { until } => until,
            Stage::NeedLeader { retry_at } => retry_at,
            Stage::Forwarded { retry_at, .. } => retry_at,
            Stage::Leading => self.deadline,
        };
        stage.min(self.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Key;

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
