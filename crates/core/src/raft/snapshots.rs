//! Snapshots and log compaction (Raft §7, thesis chapter 5), the
//! replica's side: taking the application's snapshot and compacting the
//! log under it, a leader sending its snapshot in chunks to a member its
//! log no longer reaches, and a member installing one.
//!
//! Compaction keeps `compaction_margin` entries before the snapshot's
//! index, so that a member a little behind still gets entries. It happens
//! at the start of the next message or timeout rather than in the step
//! that took the snapshot (nor when a persist batch is reported durable,
//! which a runtime may do within that same step): every entry committed in
//! a step is then still in the log when the step ends, for whoever
//! observes the node between steps (the simulator's checkers learn the
//! committed log from the nodes' logs). On disk, the log is replaced when
//! the snapshot's persist batch is written (see [`crate::durable`]).

use std::sync::Arc;

use super::progress::SnapshotSend;
use super::state::{Incoming, Raft, Role};
use crate::events::Event;
use crate::message::*;
use crate::snapshot::Snapshot;
use crate::time::Millis;

/// Chunks of a snapshot in flight to one member at most: a transfer takes
/// a round trip per this many chunks, not per chunk. (One per round trip
/// left a member that had been away for seconds under a hard write load
/// unable to catch up: 75 KB in 200-byte chunks took 3 s.)
pub(crate) const SNAPSHOT_CHUNKS_IN_FLIGHT: u64 = 8;

/// What a member does with a chunk of a snapshot.
pub(super) enum Chunk {
    /// Held; the leader is told how much of the text is here.
    Held { next_offset: u64 },
    /// The snapshot is complete (`bytes` of text) and newer than what this
    /// member committed.
    Complete { snapshot: Snapshot, bytes: u64 },
    /// What this member committed already covers the snapshot.
    Covered,
}

impl Raft {
    /// The application took `snapshot` of what it applied: it becomes the
    /// durable snapshot, and the log is compacted under it at the next
    /// input.
    pub(crate) fn take_snapshot(&mut self, now: Millis, snapshot: Snapshot) {
        assert!(
            snapshot.index <= self.commit_index,
            "a snapshot ({}) holds only committed entries (commit {})",
            snapshot.index,
            self.commit_index
        );
        assert_eq!(
            self.durable.log.term_at(snapshot.index),
            Some(snapshot.term),
            "a snapshot names the term of its last entry"
        );
        let newest = self.durable.snapshot.as_ref().map_or(0, |s| s.index);
        if snapshot.index <= newest {
            return;
        }
        let mut compact_to = snapshot.index.saturating_sub(self.config.compaction_margin);
        if let Role::Leader(leader) = &self.role {
            // A member installing an older snapshot continues from its
            // index by AppendEntries, and one that just installed it from
            // what it matches: compacting past either would send that
            // member snapshot after snapshot, never catching up while
            // writes flow faster than a snapshot travels.
            let live_ms = self.config.election_timeout_ms_max;
            if let Some(kept) = leader.progress.oldest_kept_for(now, live_ms) {
                compact_to = compact_to.min(kept);
            }
        }
        self.compact_pending = Some(compact_to);
        self.durable.snapshot = Some(Arc::new(snapshot));
        self.batches.snapshot_changed();
        self.note(Event::SnapshotTaken);
    }

    /// The index of the newest snapshot (0: none).
    pub(crate) fn snapshot_index(&self) -> u64 {
        self.durable.snapshot.as_ref().map_or(0, |s| s.index)
    }

    /// Compacts the log as the last snapshot allows, if it has not yet.
    pub(crate) fn compact_if_due(&mut self) {
        if self.config.planted.compact_unapplied && self.snapshot_index() > 0 {
            // Planted bug: once snapshots began, compact to the commit
            // index at every input, whatever was applied or snapshotted.
            self.compact_pending = Some(self.commit_index);
        }
        if let Some(index) = self.compact_pending.take() {
            // Never past the last entry (a snapshot may run ahead of an
            // empty log only after an install, which compacted already).
            let index = index.min(self.durable.log.last_index());
            self.durable.log.compact_to(index);
        }
    }

    /// Leader side: starts the newest snapshot on its way to `peer`, its
    /// first [`SNAPSHOT_CHUNKS_IN_FLIGHT`] chunks at once; or, one being on
    /// its way, sends its next chunk again from what the member
    /// acknowledged. The leader comes here only when the member needs a
    /// snapshot and was sent nothing for a heartbeat interval (answers
    /// send the chunks after them, [`Raft::send_snapshot_chunks`]): a
    /// chunk or an answer was lost, and the member's acknowledgements
    /// stay at the gap. One chunk, not a window: a member that is down
    /// gets one chunk a heartbeat.
    pub(super) fn send_snapshot_chunk(&mut self, now: Millis, peer: usize) {
        let in_progress = match &self.role {
            Role::Leader(leader) => leader.progress[peer].snapshot_sent.clone(),
            _ => return,
        };
        let (sending, chunks) = match in_progress {
            Some(mut sending) => {
                sending.sent = sending.acked;
                (sending, 1)
            }
            None => {
                let Some(snapshot) = self.durable.snapshot.clone() else {
                    unreachable!("the log is compacted only under a snapshot");
                };
                let text = match &self.snapshot_text {
                    Some((index, text)) if *index == snapshot.index => text.clone(),
                    _ => {
                        let text: Arc<str> = snapshot.encode().into();
                        self.snapshot_text = Some((snapshot.index, text.clone()));
                        text
                    }
                };
                let sending = SnapshotSend {
                    index: snapshot.index,
                    term: snapshot.term,
                    text,
                    acked: 0,
                    sent: 0,
                };
                (sending, SNAPSHOT_CHUNKS_IN_FLIGHT)
            }
        };
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let progress = &mut leader.progress[peer];
        progress.snapshot_sent = Some(sending);
        progress.after_snapshot = false;
        self.send_snapshot_chunks(now, peer, chunks);
    }

    /// Leader side: sends `peer` up to `chunks_max` chunks of the snapshot
    /// on its way to it, after those already sent, as far as the window of
    /// [`SNAPSHOT_CHUNKS_IN_FLIGHT`] chunks past what it acknowledged lets.
    pub(super) fn send_snapshot_chunks(&mut self, now: Millis, peer: usize, chunks_max: u64) {
        let chunk_bytes = self.config.snapshot_chunk_bytes;
        let term = self.durable.current_term;
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let seq = leader.seq;
        let progress = &mut leader.progress[peer];
        let Some(sending) = progress.snapshot_sent.as_mut() else {
            return;
        };
        let window_end = sending.acked + SNAPSHOT_CHUNKS_IN_FLIGHT * chunk_bytes as u64;
        let text = &sending.text;
        let mut chunks = Vec::new();
        while (chunks.len() as u64) < chunks_max
            && sending.sent < window_end
            && (sending.sent < text.len() as u64
                // Held whole but not done (its last chunk's flag was lost
                // on the way): an empty last chunk finishes it.
                || sending.acked == text.len() as u64 && chunks.is_empty())
        {
            let offset = sending.sent as usize;
            let end = char_boundary_at_most(text, offset + chunk_bytes);
            chunks.push(InstallSnapshot {
                term,
                last_index: sending.index,
                last_term: sending.term,
                offset: offset as u64,
                data: text[offset..end].to_owned(),
                done: end == text.len(),
                seq,
            });
            sending.sent = end as u64;
        }
        if chunks.is_empty() {
            return;
        }
        progress.sent_at = now;
        for chunk in chunks {
            if chunk.offset == 0 {
                self.note(Event::SnapshotSent);
            }
            self.send_to_member(peer, Payload::Peer(PeerMsg::InstallSnapshot(chunk)));
        }
    }

    /// Member side: takes a chunk of a snapshot from the current leader.
    pub(super) fn take_chunk(&mut self, message: InstallSnapshot) -> Chunk {
        if message.last_index <= self.commit_index && !self.config.planted.install_older_snapshot {
            // Never install a snapshot older than this member's state: what
            // it committed holds every entry the snapshot covers.
            self.incoming = None;
            self.note(Event::SnapshotOlderRefused);
            return Chunk::Covered;
        }
        // A snapshot's first chunk replaces one half received; any chunk
        // starts one when none is (the first may arrive after the next).
        let fresh = match &self.incoming {
            None => true,
            Some(i) => {
                message.offset == 0 && (i.index, i.term) != (message.last_index, message.last_term)
            }
        };
        if fresh {
            self.incoming = Some(Incoming {
                index: message.last_index,
                term: message.last_term,
                text: String::new(),
                ahead: std::collections::BTreeMap::new(),
                end: None,
            });
        }
        let Some(incoming) = self.incoming.as_mut() else {
            return Chunk::Held { next_offset: 0 };
        };
        let same = (incoming.index, incoming.term) == (message.last_index, message.last_term);
        if !same {
            return Chunk::Held { next_offset: 0 };
        }
        // The chunk that continues the text is taken, and the chunks held
        // ahead that then continue it; one further on is held (a window
        // of them at most); a copy is answered with how much is here.
        if message.done {
            incoming.end = Some(message.offset + message.data.len() as u64);
        }
        let here = incoming.text.len() as u64;
        if message.offset == here {
            incoming.text.push_str(&message.data);
            while let Some(data) = incoming.ahead.remove(&(incoming.text.len() as u64)) {
                incoming.text.push_str(&data);
            }
        } else if message.offset > here && (incoming.ahead.len() as u64) < SNAPSHOT_CHUNKS_IN_FLIGHT
        {
            incoming.ahead.insert(message.offset, message.data);
        }
        let next_offset = incoming.text.len() as u64;
        if incoming.end != Some(next_offset) {
            return Chunk::Held { next_offset };
        }
        let incoming = self.incoming.take().expect("checked above");
        match Snapshot::decode(&incoming.text) {
            Ok(snapshot) if (snapshot.index, snapshot.term) == (incoming.index, incoming.term) => {
                Chunk::Complete {
                    snapshot,
                    bytes: next_offset,
                }
            }
            Ok(snapshot) => {
                self.warn(format!(
                    "dropping a snapshot announced as (index {}, term {}) that holds (index {}, term {})",
                    incoming.index, incoming.term, snapshot.index, snapshot.term
                ));
                Chunk::Held { next_offset: 0 }
            }
            Err(why) => {
                self.warn(format!(
                    "dropping an unreadable snapshot (index {}): {why}",
                    incoming.index
                ));
                Chunk::Held { next_offset: 0 }
            }
        }
    }

    /// Member side: `snapshot`, newer than anything this member committed,
    /// replaces the log up to its index (keeping what follows if the log
    /// holds its last entry) and becomes the durable snapshot.
    pub(super) fn install(&mut self, snapshot: Snapshot) {
        assert!(
            snapshot.index > self.commit_index || self.config.planted.install_older_snapshot,
            "only a snapshot newer than what is committed is installed"
        );
        let log = &mut self.durable.log;
        if snapshot.index <= self.commit_index {
            // Planted bug `install-older-snapshot`: a naive install that
            // makes the snapshot the whole state, log and commit included.
            log.reset_to(snapshot.index, snapshot.term);
            self.commit_index = snapshot.index;
        } else if log.term_at(snapshot.index) == Some(snapshot.term) {
            log.compact_to(snapshot.index);
        } else {
            log.reset_to(snapshot.index, snapshot.term);
        }
        self.commit_index = self.commit_index.max(snapshot.index);
        self.compact_pending = None;
        self.batches.log_replaced(self.durable.log.last_index());
        self.durable.snapshot = Some(Arc::new(snapshot));
        self.batches.snapshot_changed();
        self.note(Event::SnapshotInstalled);
    }
}

/// The largest index at most `at` that starts a character of `text` (or
/// its end), so that a chunk never splits one.
fn char_boundary_at_most(text: &str, at: usize) -> usize {
    let mut end = at.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_on_character_boundaries() {
        let text = "aé€😀b";
        assert_eq!(char_boundary_at_most(text, 2), 1, "inside é");
        assert_eq!(char_boundary_at_most(text, 3), 3);
        assert_eq!(char_boundary_at_most(text, 5), 3, "inside €");
        assert_eq!(char_boundary_at_most(text, 100), text.len());
    }
}
