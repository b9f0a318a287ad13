//! The leader's queue of reads (Raft §8, thesis §6.4): each waits first for
//! a heartbeat round that a majority acknowledges (so this node still led
//! when the read arrived), then for its index to be applied.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use crate::data::Key;
use crate::message::Redirect;
use crate::time::Millis;

/// Who gets a leader-side outcome.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum ReplyTo {
    /// This node's own pending op.
    Local(u64),
    /// An origin node's forwarded op.
    Remote { node: usize, fwd_id: u64 },
}

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

/// The leader's reads. Every step's work is bounded by the reads it
/// finishes or expires, not by how many wait: rounds are confirmed in
/// order, indexes are applied in order, and deadlines come off a heap.
#[derive(Default)]
pub(super) struct ReadQueue {
    /// Numbers reads in the order they joined a list; a read that moves on
    /// to `applying` gets a new number there.
    next_id: u64,
    /// Reads waiting for their round, oldest first, by id. `seq_needed`
    /// never decreases along the list, because reads join at rounds that
    /// only grow; 0 (no round yet) only while no read has one, because they
    /// are all armed together. A round a majority acknowledged covers every
    /// round before it, so the confirmed reads are always a prefix. An id
    /// missing from `confirming_reads` expired; it is dropped on reaching
    /// the front.
    confirming: VecDeque<u64>,
    confirming_reads: BTreeMap<u64, IndexRead>,
    /// Reads waiting for their index, by (index, id).
    applying: BTreeMap<(u64, u64), ApplyRead>,
    /// Every read's deadline with its id (and index, if applying), soonest
    /// first; an entry whose read has left is dropped when it reaches the top.
    expiry: BinaryHeap<Reverse<(Millis, u64, Option<u64>)>>,
}

impl ReadQueue {
    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn wait_for_round(&mut self, read: IndexRead) {
        if let Some(last) = self
            .confirming
            .back()
            .and_then(|id| self.confirming_reads.get(id))
        {
            assert!(
                last.seq_needed <= read.seq_needed && (last.seq_needed > 0 || read.seq_needed == 0),
                "reads join at rounds that never decrease (round {} after {})",
                read.seq_needed,
                last.seq_needed
            );
        }
        let id = self.take_id();
        self.expiry.push(Reverse((read.deadline, id, None)));
        self.confirming.push_back(id);
        self.confirming_reads.insert(id, read);
    }

    /// Whether any read waits for its round.
    pub(super) fn any_confirming(&self) -> bool {
        !self.confirming_reads.is_empty()
    }

    /// Whether any read waits for its index to apply.
    pub(super) fn any_applying(&self) -> bool {
        !self.applying.is_empty()
    }

    pub(super) fn wait_for_apply(&mut self, read: ApplyRead) {
        let id = self.take_id();
        self.expiry
            .push(Reverse((read.deadline, id, Some(read.index))));
        self.applying.insert((read.index, id), read);
    }

    /// Gives every read still without a round this one: the leader has just
    /// learnt a commit index it can trust. Whether any read was waiting.
    /// Each read is armed once.
    pub(super) fn arm(&mut self, read_index: u64, seq_needed: u64) -> bool {
        let mut armed = false;
        for id in &self.confirming {
            #[cfg(test)]
            crate::work::count();
            match self.confirming_reads.get_mut(id) {
                Some(read) if read.seq_needed == 0 => {
                    read.read_index = read_index;
                    read.seq_needed = seq_needed;
                    armed = true;
                }
                // Armed reads follow: none of them is at round 0.
                Some(_) => break,
                None => {}
            }
        }
        armed
    }

    /// Takes the reads whose round `confirmed` says a majority
    /// acknowledged, oldest first: a prefix of the list.
    pub(super) fn take_confirmed(&mut self, confirmed: impl Fn(u64) -> bool) -> Vec<IndexRead> {
        let mut done = Vec::new();
        while let Some(&id) = self.confirming.front() {
            #[cfg(test)]
            crate::work::count();
            match self.confirming_reads.get(&id) {
                Some(read) if read.seq_needed == 0 || !confirmed(read.seq_needed) => break,
                Some(_) => done.extend(self.confirming_reads.remove(&id)),
                None => {}
            }
            self.confirming.pop_front();
        }
        done
    }

    /// Takes the reads whose index is applied, in the order they began to
    /// wait for it.
    pub(super) fn take_applied(&mut self, applied_index: u64) -> Vec<ApplyRead> {
        let mut ready = Vec::new();
        while let Some(entry) = self.applying.first_entry() {
            #[cfg(test)]
            crate::work::count();
            if entry.key().0 > applied_index {
                break;
            }
            ready.push((entry.key().1, entry.remove()));
        }
        ready.sort_unstable_by_key(|&(id, _)| id);
        ready.into_iter().map(|(_, read)| read).collect()
    }

    /// Takes every read still waiting for its round (leadership is gone).
    pub(super) fn take_unconfirmed(&mut self) -> Vec<IndexRead> {
        self.confirming.clear();
        std::mem::take(&mut self.confirming_reads)
            .into_values()
            .collect()
    }

    /// Drops reads past their deadline: their origin answers the client.
    pub(super) fn expire(&mut self, now: Millis) {
        while let Some(&Reverse((deadline, id, index))) = self.expiry.peek() {
            #[cfg(test)]
            crate::work::count();
            if deadline > now {
                break;
            }
            self.expiry.pop();
            match index {
                Some(index) => drop(self.applying.remove(&(index, id))),
                None => drop(self.confirming_reads.remove(&id)),
            }
        }
        while let Some(id) = self.confirming.front() {
            #[cfg(test)]
            crate::work::count();
            if self.confirming_reads.contains_key(id) {
                break;
            }
            self.confirming.pop_front();
        }
        self.prune();
    }

    /// Drops entries of reads that left from the top of the deadline heap,
    /// so that its top is the soonest deadline of a waiting read.
    pub(super) fn prune(&mut self) {
        while let Some(&Reverse((_, id, index))) = self.expiry.peek() {
            #[cfg(test)]
            crate::work::count();
            let waiting = match index {
                Some(index) => self.applying.contains_key(&(index, id)),
                None => self.confirming_reads.contains_key(&id),
            };
            if waiting {
                return;
            }
            self.expiry.pop();
        }
    }

    /// The soonest deadline of a waiting read (current after [`Self::prune`]).
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        self.expiry
            .peek()
            .map(|Reverse((deadline, _, _))| *deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_read(id: u64, deadline: u64, seq_needed: u64) -> IndexRead {
        IndexRead {
            key: Key::Int(0),
            kind: ReadKind::Linearizable,
            reply_to: ReplyTo::Local(id),
            deadline: Millis(deadline),
            read_index: 0,
            seq_needed,
        }
    }

    fn apply_read(id: u64, index: u64, deadline: u64) -> ApplyRead {
        ApplyRead {
            index,
            key: Key::Int(0),
            kind: ReadKind::Linearizable,
            reply_to: ReplyTo::Local(id),
            deadline: Millis(deadline),
        }
    }

    fn ids<'a>(reply_to: impl Iterator<Item = &'a ReplyTo>) -> Vec<u64> {
        reply_to
            .map(|r| match r {
                ReplyTo::Local(id) => *id,
                ReplyTo::Remote { fwd_id, .. } => *fwd_id,
            })
            .collect()
    }

    #[test]
    fn the_next_deadline_is_the_soonest_of_the_reads_still_waiting() {
        let mut queue = ReadQueue::default();
        assert_eq!(queue.next_deadline(), None);
        queue.wait_for_round(index_read(1, 30, 1));
        queue.wait_for_apply(apply_read(2, 5, 20));
        queue.wait_for_round(index_read(3, 40, 2));
        assert_eq!(queue.next_deadline(), Some(Millis(20)));
        // The read due at 20 is served: its deadline no longer counts.
        assert_eq!(ids(queue.take_applied(5).iter().map(|r| &r.reply_to)), [2]);
        queue.prune();
        assert_eq!(queue.next_deadline(), Some(Millis(30)));
        queue.expire(Millis(30));
        assert_eq!(queue.next_deadline(), Some(Millis(40)));
        assert_eq!(
            ids(queue.take_unconfirmed().iter().map(|r| &r.reply_to)),
            [3]
        );
        queue.prune();
        assert_eq!(queue.next_deadline(), None, "nothing waits");
    }

    #[test]
    fn rounds_are_confirmed_in_order_and_reads_arm_once() {
        let mut queue = ReadQueue::default();
        queue.wait_for_round(index_read(1, 100, 0));
        queue.wait_for_round(index_read(2, 100, 0));
        assert!(queue.arm(7, 3), "two reads were waiting for a round");
        queue.wait_for_round(index_read(3, 100, 5));
        assert!(!queue.arm(9, 6), "every read has its round already");
        let confirmed = queue.take_confirmed(|seq| seq <= 4);
        assert_eq!(ids(confirmed.iter().map(|r| &r.reply_to)), [1, 2]);
        assert!(confirmed
            .iter()
            .all(|r| (r.read_index, r.seq_needed) == (7, 3)));
        assert!(queue.take_confirmed(|seq| seq <= 4).is_empty());
        let confirmed = queue.take_confirmed(|seq| seq <= 5);
        assert_eq!(ids(confirmed.iter().map(|r| &r.reply_to)), [3]);
    }

    #[test]
    fn applied_reads_come_out_in_the_order_they_began_to_wait() {
        let mut queue = ReadQueue::default();
        queue.wait_for_apply(apply_read(1, 9, 100));
        queue.wait_for_apply(apply_read(2, 4, 100));
        queue.wait_for_apply(apply_read(3, 6, 100));
        queue.wait_for_apply(apply_read(4, 12, 100));
        assert!(queue.take_applied(3).is_empty());
        let ready = queue.take_applied(9);
        assert_eq!(ids(ready.iter().map(|r| &r.reply_to)), [1, 2, 3]);
        queue.expire(Millis(100));
        assert!(queue.take_applied(20).is_empty(), "expired, not served");
    }
}
