//! The event queue: events ordered by (time, sequence number). Events at
//! the same millisecond run in the order they were scheduled, so a run
//! never depends on how a heap breaks ties.
//!
//! Almost every event is due within a few seconds of now (message
//! delays, timers, client think times), so the queue is a timing wheel:
//! one bucket per millisecond for the next [`WHEEL_MS`], each a FIFO of
//! the events due then, in the order they were scheduled. Scheduling and
//! taking the next event cost O(1) instead of a heap's O(log n) sift
//! (which was 13% of a simulation's instructions). Events due later wait
//! in a heap ordered by (time, sequence) and move into their bucket when
//! it comes within reach, before anything else can be scheduled there, so
//! the order is exactly the heap's: time first, then scheduling order.

use std::collections::BinaryHeap;

use crate::slab::Slab;

/// Milliseconds the wheel covers ahead of the earliest time it may hold.
const WHEEL_MS: u64 = 4096;

/// The end of a bucket's list.
const NONE: u32 = u32::MAX;

/// The events due at one millisecond, oldest first: a list threaded
/// through [`EventQueue::next`], so scheduling allocates nothing.
#[derive(Clone, Copy)]
struct Bucket {
    head: u32,
    tail: u32,
}

const EMPTY: Bucket = Bucket {
    head: NONE,
    tail: NONE,
};

/// A far event in the overflow heap: small, so sifting moves a few bytes.
/// The events themselves (messages can be large) stay put in a slab.
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
    seq: u64,
    /// Events by slot; a taken event's slot is reused.
    slab: Slab<E>,
    /// By slot: the next slot in the same bucket.
    next: Vec<u32>,
    /// Bucket `t % WHEEL_MS` lists the slots of the events due at `t`, for
    /// every `t` in `base_ms..base_ms + WHEEL_MS`, in scheduling order.
    wheel: Vec<Bucket>,
    /// The earliest time the wheel may hold: the time of the event taken
    /// last. Nothing may be scheduled before it.
    base_ms: u64,
    /// Events in the wheel.
    in_wheel: usize,
    /// Events due at or after `base_ms + WHEEL_MS`.
    far: BinaryHeap<Entry>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> EventQueue<E> {
        EventQueue {
            seq: 0,
            slab: Slab::default(),
            next: Vec::new(),
            wheel: vec![EMPTY; WHEEL_MS as usize],
            base_ms: 0,
            in_wheel: 0,
            far: BinaryHeap::new(),
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at `at_ms`, which must not be before the time of
    /// the event taken last (simulated time does not run backwards).
    pub fn push(&mut self, at_ms: u64, event: E) {
        assert!(
            at_ms >= self.base_ms,
            "event scheduled at {at_ms} ms, before the current time {} ms",
            self.base_ms
        );
        self.seq += 1;
        let slot = self.slab.put(event);
        if slot as usize == self.next.len() {
            self.next.push(NONE);
        }
        if at_ms - self.base_ms < WHEEL_MS {
            self.append(at_ms, slot);
        } else {
            self.far.push(Entry {
                at_ms,
                seq: self.seq,
                slot,
            });
        }
    }

    /// The earliest event and its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        loop {
            let due = &mut self.wheel[bucket(self.base_ms)];
            if due.head != NONE {
                let slot = due.head;
                due.head = self.next[slot as usize];
                if due.head == NONE {
                    due.tail = NONE;
                }
                self.in_wheel -= 1;
                return Some((self.base_ms, self.slab.take(slot)));
            }
            // Nothing more is due now: move on to the next time that can
            // hold an event, and bring far events that came within reach.
            if self.in_wheel > 0 {
                self.base_ms += 1;
            } else {
                self.base_ms = self.far.peek()?.at_ms;
            }
            self.bring_near();
        }
    }

    /// Moves far events now within the wheel's reach into their buckets.
    /// Their buckets are empty: nothing could be scheduled at those times
    /// directly before they came within reach, and these came earlier.
    fn bring_near(&mut self) {
        while let Some(entry) = self.far.peek() {
            if entry.at_ms - self.base_ms >= WHEEL_MS {
                break;
            }
            let entry = self.far.pop().expect("peeked");
            self.append(entry.at_ms, entry.slot);
        }
    }

    /// Puts `slot` last in the bucket of `at_ms`.
    fn append(&mut self, at_ms: u64, slot: u32) {
        self.next[slot as usize] = NONE;
        let due = &mut self.wheel[bucket(at_ms)];
        if due.tail == NONE {
            due.head = slot;
        } else {
            self.next[due.tail as usize] = slot;
        }
        due.tail = slot;
        self.in_wheel += 1;
    }

    pub fn len(&self) -> usize {
        self.in_wheel + self.far.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn bucket(at_ms: u64) -> usize {
    (at_ms % WHEEL_MS) as usize
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

    /// The wheel gives exactly the order of a heap on (time, sequence),
    /// for events near and far, scheduled before and while taking.
    #[test]
    fn the_wheel_orders_events_exactly_as_a_heap_would() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut q = EventQueue::default();
        let mut reference = BinaryHeap::new();
        let mut seq = 0u64;
        let mut now_ms = 0u64;
        let mut taken = Vec::new();
        let mut expected = Vec::new();
        for round in 0..20_000u64 {
            for _ in 0..rng.random_range(0..3) {
                // Mostly near, sometimes far beyond the wheel, often equal.
                let ahead_ms = match rng.random_range(0..10) {
                    0 => rng.random_range(WHEEL_MS - 2..3 * WHEEL_MS),
                    1 => 0,
                    _ => rng.random_range(0..50),
                };
                seq += 1;
                q.push(now_ms + ahead_ms, seq);
                reference.push(Entry {
                    at_ms: now_ms + ahead_ms,
                    seq,
                    slot: 0,
                });
            }
            if round % 2 == 0 {
                if let Some((at_ms, id)) = q.pop() {
                    now_ms = at_ms;
                    taken.push((at_ms, id));
                    let e = reference.pop().expect("the same count");
                    expected.push((e.at_ms, e.seq));
                }
            }
            assert_eq!(q.len(), reference.len());
        }
        while let Some(next) = q.pop() {
            taken.push(next);
            let e = reference.pop().expect("the same count");
            expected.push((e.at_ms, e.seq));
        }
        assert!(reference.is_empty());
        assert_eq!(taken, expected);
        assert!(taken.len() > 15_000, "{} events", taken.len());
    }

    #[test]
    #[should_panic(expected = "before the current time")]
    fn scheduling_in_the_past_is_refused() {
        let mut q = EventQueue::default();
        q.push(10, ());
        q.pop();
        q.push(9, ());
    }
}
