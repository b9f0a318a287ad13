//! A slab: values kept in place under small numbers (their slots), each
//! taken out once, its slot then reused before the slab grows. The event
//! queue keeps its events in one, and the run keeps the messages on their
//! way in another, so that an event names its message by slot: a message
//! is some 200 bytes, and the queue copies an event into its slot and out
//! again (every event, timers and fsyncs too, was as large as the largest
//! message).

pub struct Slab<T> {
    slots: Vec<Option<T>>,
    /// Slots emptied by `take`, reused last-freed first.
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Slab<T> {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    /// Keeps `value`; returns its slot: a freed one if any, else the next
    /// new one (the slab's length before).
    pub fn put(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(value);
                slot
            }
            None => {
                self.slots.push(Some(value));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 values held at once")
            }
        }
    }

    /// Takes the value in `slot` out.
    pub fn take(&mut self, slot: u32) -> T {
        let value = self.slots[slot as usize]
            .take()
            .expect("a slot's value is taken once");
        self.free.push(slot);
        value
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_comes_back_from_its_slot_and_slots_are_reused() {
        let mut slab = Slab::default();
        let a = slab.put("a".to_owned());
        let b = slab.put("b".to_owned());
        assert_eq!((a, b), (0, 1));
        assert_eq!(slab.take(a), "a");
        let c = slab.put("c".to_owned());
        assert_eq!(c, a, "the freed slot is reused");
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.take(b), "b");
        assert_eq!(slab.take(c), "c");
        assert!(slab.is_empty());
        assert_eq!(slab.put("d".to_owned()), c, "the last freed first");
    }
}
