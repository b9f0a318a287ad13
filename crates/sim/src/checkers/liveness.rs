//! Liveness: once the last fault heals, a leader is elected and a write and
//! a `ryw_read` issued after the heal complete within a bound.

use super::Violation;

pub struct Liveness {
    pub healed_at_ms: u64,
    pub bound_ms: u64,
    write_done_ms: Option<u64>,
    read_done_ms: Option<u64>,
}

impl Liveness {
    pub fn new(healed_at_ms: u64, bound_ms: u64) -> Liveness {
        Liveness {
            healed_at_ms,
            bound_ms,
            write_done_ms: None,
            read_done_ms: None,
        }
    }

    /// A successful operation that was sent at `sent_ms` completed at `done_ms`.
    pub fn completed(&mut self, is_write: bool, sent_ms: u64, done_ms: u64) {
        if sent_ms < self.healed_at_ms {
            return;
        }
        let slot = if is_write {
            &mut self.write_done_ms
        } else {
            &mut self.read_done_ms
        };
        slot.get_or_insert(done_ms);
    }

    pub fn verdict(&self) -> Option<Violation> {
        let deadline = self.healed_at_ms + self.bound_ms;
        let late = |done: Option<u64>| done.is_none_or(|t| t > deadline);
        if late(self.write_done_ms) || late(self.read_done_ms) {
            let detail = format!(
                "after the heal at {} ms no write and ryw_read both completed within {} ms (write done: {:?}, read done: {:?})",
                self.healed_at_ms, self.bound_ms, self.write_done_ms, self.read_done_ms
            );
            Some(Violation::new("liveness", deadline, None, detail))
        } else {
            None
        }
    }
}
