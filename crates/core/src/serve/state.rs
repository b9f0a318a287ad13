//! The serving layer's state as one struct: the operations in flight, the
//! key-value state machine, and when each commit was learnt (apply lag).

use std::collections::VecDeque;

use super::ops::Ops;
use crate::kv::Kv;
use crate::raft::Raft;
use crate::snapshot::Snapshot;
use crate::time::Millis;

/// Which kinds of reads wait at a node, for an observer outside the core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReadsWaiting {
    /// `ryw_read`s waiting for their token to apply here (follower reads).
    pub for_apply_at_origin: bool,
    /// Reads at the leader waiting for a leadership round (ReadIndex).
    pub for_round_at_leader: bool,
    /// Reads at the leader waiting for their index to apply.
    pub for_apply_at_leader: bool,
}

pub(crate) struct Serve {
    pub(super) ops: Ops,
    pub(super) kv: Kv,
    /// When this node learnt each commit index it has not yet applied up to:
    /// (index, time), oldest first. Entries apply `apply_delay_ms` after.
    pub(super) commits_learnt: VecDeque<(u64, Millis)>,
}

impl Serve {
    /// A serving layer with the state machine of `snapshot` (nothing
    /// applied without one); operation ids start at `incarnation`'s (see
    /// [`Ops::starting_at`]).
    pub(crate) fn new(incarnation: u32, snapshot: Option<&Snapshot>) -> Serve {
        Serve {
            ops: Ops::starting_at(incarnation),
            kv: snapshot.map(|s| s.kv.clone()).unwrap_or_default(),
            commits_learnt: VecDeque::new(),
        }
    }

    pub(crate) fn kv(&self) -> &Kv {
        &self.kv
    }

    /// The next deadline, wait bound or retry of a client operation.
    pub(crate) fn next_op_timer(&self) -> Option<Millis> {
        self.ops.next_timer()
    }

    /// When committed entries fall due to be applied (apply lag).
    pub(crate) fn next_apply_at(&self, raft: &Raft) -> Option<Millis> {
        let &(_, learnt) = self.commits_learnt.front()?;
        Some(learnt.plus(raft.config().apply_delay_ms))
    }

    /// Which kinds of reads wait here now: a few emptiness checks.
    pub(crate) fn reads_waiting(&self) -> ReadsWaiting {
        ReadsWaiting {
            for_apply_at_origin: !self.ops.waiting_apply.is_empty(),
            for_round_at_leader: self.ops.reads.any_confirming(),
            for_apply_at_leader: self.ops.reads.any_applying(),
        }
    }

    /// Drops stale timer entries, so that the next timer is current; the
    /// node calls it at the end of every step.
    pub(crate) fn prune_timers(&mut self) {
        self.ops.prune_timers();
    }
}
