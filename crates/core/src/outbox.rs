//! What the node has to say: its messages, numbered in the order they are
//! made, each free to leave or waiting for a persist batch, and its
//! diagnostics for a human. A leaf: it knows envelopes, not the node.

use std::collections::VecDeque;

use crate::id::Id;
use crate::message::{Body, Envelope, Payload};

/// Most diagnostics kept for the runtime to drain; older ones are dropped.
pub(crate) const WARNINGS_MAX: usize = 256;

#[derive(Default)]
pub(crate) struct Outbox {
    next_msg_id: u64,
    /// Messages that wait for nothing, in the order they were made.
    free: VecDeque<Envelope>,
    /// Messages that wait for a persist batch to be durable, with that
    /// batch, in the order they were made; batches never decrease along
    /// it, so those the disk allows are always a prefix.
    for_disk: VecDeque<(u64, Envelope)>,
    warnings: VecDeque<String>,
}

impl Outbox {
    /// Queues a message with the next `msg_id`; it leaves once batch
    /// `waits_for` is durable (0: at once).
    pub(crate) fn push(
        &mut self,
        src: Id,
        dest: Id,
        in_reply_to: Option<u64>,
        payload: Payload,
        waits_for: u64,
    ) {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        let envelope = Envelope {
            src,
            dest,
            body: Body {
                msg_id: Some(msg_id),
                in_reply_to,
                payload,
            },
        };
        if waits_for == 0 {
            self.free.push_back(envelope);
        } else {
            if let Some(&(last, _)) = self.for_disk.back() {
                assert!(
                    last <= waits_for,
                    "batch {waits_for} queued after batch {last}"
                );
            }
            self.for_disk.push_back((waits_for, envelope));
        }
    }

    /// The next message in the order they were made, skipping those whose
    /// batch `durable` does not allow yet. Messages get their `msg_id` in
    /// that order, so the earlier of the two queues' sendable heads is next.
    pub(crate) fn pop(&mut self, durable: impl Fn(u64) -> bool) -> Option<Envelope> {
        let free = self.free.front().map(|e| e.body.msg_id);
        let allowed = self
            .for_disk
            .front()
            .filter(|&&(batch, _)| durable(batch))
            .map(|(_, e)| e.body.msg_id);
        match (free, allowed) {
            (Some(free), Some(allowed)) if allowed < free => {
                self.for_disk.pop_front().map(|(_, e)| e)
            }
            (Some(_), _) => self.free.pop_front(),
            (None, Some(_)) => self.for_disk.pop_front().map(|(_, e)| e),
            (None, None) => None,
        }
    }

    pub(crate) fn warn(&mut self, text: String) {
        if self.warnings.len() == WARNINGS_MAX {
            self.warnings.pop_front();
        }
        self.warnings.push_back(text);
    }

    pub(crate) fn pop_warning(&mut self) -> Option<String> {
        self.warnings.pop_front()
    }
}
