//! The event queue: events ordered by (time, sequence number). Events at
//! the same millisecond run in the order they were scheduled, so a run
//! never depends on how a heap breaks ties.

use std::collections::BinaryHeap;

/// What the heap orders: small, so that sifting moves a few bytes. The
/// events themselves (messages can be large) stay put in a slab.
struct Entry {
    at_ms: u64,
    seq: u64,
    slot: u32,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (self.at_ms, self.seq) == (other.at_ms, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed: the heap pops the earliest time, then the earliest scheduled.
    fn cmp(&self, other: &Entry) -> std::cmp::Ordering {
        (other.at_ms, other.seq).cmp(&(self.at_ms, self.seq))
    }
}

pub struct EventQueue<E> {
    heap: BinaryHeap<Entry>,
    seq: u64,
    /// Events by slot; a popped event's slot is reused.
    slab: Vec<Option<E>>,
    free: Vec<u32>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> EventQueue<E> {
        EventQueue {
            heap: BinaryHeap::new(),
            seq: 0,
            slab: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, at_ms: u64, event: E) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slab.push(Some(event));
                u32::try_from(self.slab.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        self.heap.push(Entry {
            at_ms,
            seq: self.seq,
            slot,
        });
    }

    /// The earliest event and its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        let entry = self.heap.pop()?;
        let event = self.slab[entry.slot as usize]
            .take()
            .expect("a queued slot holds its event");
        self.free.push(entry.slot);
        Some((entry.at_ms, event))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_in_scheduling_order() {
        let mut q = EventQueue::default();
        q.push(5, "late");
        q.push(1, "first at 1");
        q.push(1, "second at 1");
        q.push(0, "earliest");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            [
                (0, "earliest"),
                (1, "first at 1"),
                (1, "second at 1"),
                (5, "late")
            ]
        );
    }
}
