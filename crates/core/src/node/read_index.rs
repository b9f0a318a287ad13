//! The leader's queue of reads (Raft §8, thesis §6.4): each waits first for
//! a heartbeat round that a majority acknowledges (so this node still led
//! when the read arrived), then for its index to be applied.

use super::client::ReplyTo;
use crate::data::Key;
use crate::message::Redirect;
use crate::time::Millis;

#[derive(Clone, Copy)]
pub(super) enum ReadKind {
    Linearizable,
    Ryw {
        token: u64,
        reason: Option<Redirect>,
    },
}

/// A read waiting for its leadership round.
pub(super) struct IndexRead {
    pub(super) key: Key,
    pub(super) kind: ReadKind,
    pub(super) reply_to: ReplyTo,
    pub(super) deadline: Millis,
    pub(super) read_index: u64,
    /// First broadcast sent after the read was registered; 0 until the leader
    /// has committed in its term and knows a current commit index.
    pub(super) seq_needed: u64,
}

/// A read waiting for `applied_index >= index`.
pub(super) struct ApplyRead {
    pub(super) index: u64,
    pub(super) key: Key,
    pub(super) kind: ReadKind,
    pub(super) reply_to: ReplyTo,
    pub(super) deadline: Millis,
}

#[derive(Default)]
pub(super) struct ReadQueue {
    confirming: Vec<IndexRead>,
    applying: Vec<ApplyRead>,
}

impl ReadQueue {
    pub(super) fn wait_for_round(&mut self, read: IndexRead) {
        self.confirming.push(read);
    }

    pub(super) fn wait_for_apply(&mut self, read: ApplyRead) {
        self.applying.push(read);
    }

    /// Gives every read still without a round this one: the leader has just
    /// learnt a commit index it can trust. Whether any read was waiting.
    pub(super) fn arm(&mut self, read_index: u64, seq_needed: u64) -> bool {
        let mut armed = false;
        for read in self.confirming.iter_mut().filter(|r| r.seq_needed == 0) {
            read.read_index = read_index;
            read.seq_needed = seq_needed;
            armed = true;
        }
        armed
    }

    /// Takes the reads whose round `confirmed` says a majority acknowledged.
    pub(super) fn take_confirmed(&mut self, confirmed: impl Fn(u64) -> bool) -> Vec<IndexRead> {
        let (done, waiting): (Vec<IndexRead>, Vec<IndexRead>) =
            std::mem::take(&mut self.confirming)
                .into_iter()
                .partition(|r| confirmed(r.seq_needed));
        self.confirming = waiting;
        done
    }

    /// Takes the reads whose index is applied.
    pub(super) fn take_applied(&mut self, applied_index: u64) -> Vec<ApplyRead> {
        if !self.applying.iter().any(|r| r.index <= applied_index) {
            return Vec::new();
        }
        let (ready, waiting): (Vec<ApplyRead>, Vec<ApplyRead>) = self
            .applying
            .drain(..)
            .partition(|r| r.index <= applied_index);
        self.applying = waiting;
        ready
    }

    /// Takes every read still waiting for its round (leadership is gone).
    pub(super) fn take_unconfirmed(&mut self) -> Vec<IndexRead> {
        std::mem::take(&mut self.confirming)
    }

    /// Drops reads past their deadline: their origin answers the client.
    pub(super) fn expire(&mut self, now: Millis) {
        self.confirming.retain(|r| r.deadline > now);
        self.applying.retain(|r| r.deadline > now);
    }

    /// Every read's deadline.
    pub(super) fn deadlines(&self) -> impl Iterator<Item = Millis> + '_ {
        let confirming = self.confirming.iter().map(|r| r.deadline);
        confirming.chain(self.applying.iter().map(|r| r.deadline))
    }
}
