//! Messages on their way, kept in place while the event queue moves a
//! handle to them. A message is some 200 bytes; the queue copies an event
//! into its slot and out again, and every event (timers and fsyncs too)
//! was as large as the largest message. With messages here, an event is a
//! few words.

/// Where one message waits; taken exactly once.
#[derive(Debug)]
pub(crate) struct Handle(u32);

pub(crate) struct InFlight<M> {
    slots: Vec<Option<M>>,
    /// Slots emptied by `take`, reused before the store grows.
    free: Vec<u32>,
}

impl<M> Default for InFlight<M> {
    fn default() -> InFlight<M> {
        InFlight {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<M> InFlight<M> {
    pub(crate) fn put(&mut self, message: M) -> Handle {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(message);
                Handle(slot)
            }
            None => {
                self.slots.push(Some(message));
                let slot = self.slots.len() - 1;
                Handle(u32::try_from(slot).expect("fewer than 2^32 messages in flight"))
            }
        }
    }

    pub(crate) fn take(&mut self, handle: Handle) -> M {
        let message = self.slots[handle.0 as usize]
            .take()
            .expect("a handle's message is taken once");
        self.free.push(handle.0);
        message
    }

    /// Messages still on their way.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_message_comes_back_by_its_handle_and_slots_are_reused() {
        let mut in_flight = InFlight::default();
        let a = in_flight.put("a".to_owned());
        let b = in_flight.put("b".to_owned());
        assert_eq!(in_flight.take(a), "a");
        let c = in_flight.put("c".to_owned());
        assert_eq!(in_flight.slots.len(), 2, "the freed slot is reused");
        assert_eq!(in_flight.len(), 2);
        assert_eq!(in_flight.take(b), "b");
        assert_eq!(in_flight.take(c), "c");
        assert_eq!(in_flight.len(), 0);
    }
}
