//! What a leader sends: AppendEntries to every peer (broadcast rounds,
//! heartbeats to idle peers, new entries within each peer's replication
//! window, Raft §5.3), its own proposals, and the commit rule (§5.4.2).

use super::state::{Application, Raft, Role};
use crate::events::Event;
use crate::message::*;
use crate::time::Millis;

impl Raft {
    /// Appends `command` to this leader's log, in its term, and sends it
    /// on; returns the entry's (index, term). `request` names the client
    /// request it carries, so the state machine applies it once.
    pub(crate) fn propose(
        &mut self,
        now: Millis,
        command: Command,
        request: Option<RequestId>,
        app: &mut impl Application,
    ) -> (u64, u64) {
        assert!(self.is_leader(), "only a leader proposes");
        let term = self.durable.current_term;
        self.append_to_log(Entry {
            term,
            command,
            request,
        });
        let index = self.durable.log.last_index();
        self.advance_commit(now, app);
        let batch_ms = self.config.append_batch_ms;
        match &mut self.role {
            Role::Leader(leader) if batch_ms > 0 => {
                // Group commit: the first entry of a batch sets when it leaves.
                leader.append_due.get_or_insert(now.plus(batch_ms));
            }
            _ => self.replicate(now),
        }
        (index, term)
    }

    /// Starts a leadership round: AppendEntries (entries or heartbeat) to
    /// every peer, numbered by a fresh `seq` so that acknowledgements can
    /// confirm leadership (ReadIndex, Raft §8).
    pub(crate) fn start_round(&mut self, now: Millis) {
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        leader.seq += 1;
        for peer in 0..self.members().ids.len() {
            if peer != self.members().me {
                self.send_append(now, peer);
            }
        }
        self.schedule_heartbeat(now);
    }

    /// Heartbeats every peer that heard nothing from this leader for a
    /// heartbeat interval: a peer that AppendEntries reach anyway needs
    /// none.
    pub(super) fn heartbeat(&mut self, now: Millis) {
        let interval_ms = self.config.heartbeat_interval_ms;
        for peer in 0..self.members().ids.len() {
            let Role::Leader(leader) = &self.role else {
                return;
            };
            if peer != self.members().me && now.since(leader.progress[peer].sent_at) >= interval_ms
            {
                self.send_append(now, peer);
            }
        }
        self.schedule_heartbeat(now);
    }

    /// The next heartbeat is due an interval after the peer heard from
    /// this leader longest ago (a leader without peers checks in every
    /// interval all the same).
    fn schedule_heartbeat(&mut self, now: Millis) {
        let interval_ms = self.config.heartbeat_interval_ms;
        let me = self.members().me;
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let oldest = leader.progress.oldest_sent_at(me).unwrap_or(now);
        leader.heartbeat_due = oldest.plus(interval_ms);
    }

    /// Sends new entries to every peer whose replication window has room.
    /// Entries proposed while a peer's window is full reach it together,
    /// when an acknowledgement or a commit opens the window. A peer being
    /// sent a snapshot is left alone: its next chunk goes out when it
    /// answers the last (or at the heartbeat, if an answer was lost), and
    /// a new entry gives it nothing to do but take that chunk again.
    pub(super) fn replicate(&mut self, now: Millis) {
        let window = self.config.append_in_flight_max;
        let last_index = self.durable.log.last_index();
        let commit_index = self.commit_index;
        let me = self.members().me;
        for peer in (0..self.members().ids.len()).filter(|&peer| peer != me) {
            let Role::Leader(leader) = &mut self.role else {
                return;
            };
            let progress = &mut leader.progress[peer];
            if progress.snapshot_sent.is_none()
                && progress.ready_for_entries(last_index, window, commit_index)
            {
                self.send_append(now, peer);
            }
        }
    }

    pub(super) fn send_append(&mut self, now: Millis, peer: usize) {
        let base = self.durable.log.base().0;
        if matches!(&self.role, Role::Leader(l) if l.progress[peer].next_index <= base) {
            // What the member needs next is compacted: it gets the snapshot.
            return self.send_snapshot_chunk(now, peer);
        }
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let log = &self.durable.log;
        let progress = &mut leader.progress[peer];
        progress.sent_at = now;
        let prev_log_index = progress.next_index - 1;
        let prev_log_term = log
            .term_at(prev_log_index)
            .expect("next_index stays within the leader's log + 1");
        // A full window sends no entries: the message still probes the
        // member's log (a gap draws a refusal) and carries the commit index.
        let window = self.config.append_in_flight_max;
        let entries = if progress.window_open(window, self.commit_index) {
            log.slice(progress.next_index, self.config.append_entries_max)
        } else {
            Vec::new()
        };
        // Pipelining: assume delivery; a rejection moves next_index back.
        progress.next_index += entries.len() as u64;
        if !entries.is_empty() {
            progress.in_flight.push_back(progress.next_index - 1);
        }
        let request = AppendEntries {
            term: self.durable.current_term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
            seq: leader.seq,
        };
        self.send_to_member(peer, Payload::Peer(PeerMsg::AppendEntries(request)));
    }

    /// A member says it lost entries after `last_index`: a leader stops
    /// counting them and sends them again. What the member acknowledged
    /// before may still be on its way (delayed, duplicated): such answers
    /// carry this round or an older one, so the leader moves to a new round
    /// (every later message carries it) and takes the member's answers
    /// only from it on. A round number no broadcast used is safe for
    /// ReadIndex: every message that carries it was sent after the bump.
    pub(super) fn forget_lost_match(&mut self, member: usize, last_index: u64) {
        if let Role::Leader(leader) = &mut self.role {
            leader.seq += 1;
            let progress = &mut leader.progress[member];
            progress.answers_from_seq = leader.seq;
            progress.lost_entries_after(last_index);
        }
    }

    /// Commits the highest entry of the current term held by a majority.
    /// Reference: Raft §5.4.2 (Figure 8): older terms' entries commit only
    /// indirectly, never by counting their replicas. Terms never decrease
    /// along the log, so if the highest index a majority holds is not of
    /// this term, no entry of this term is on a majority: one lookup, however
    /// long the uncommitted tail.
    pub(super) fn advance_commit(&mut self, now: Millis, app: &mut impl Application) {
        let term = self.durable.current_term;
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let index = leader.progress.majority_match(self.batches.synced_index());
        if index <= self.commit_index || self.durable.log.term_at(index) != Some(term) {
            return;
        }
        debug_assert!(
            leader
                .progress
                .replicated_on_majority(index, self.batches.synced_index()),
            "the majority's match index is on a majority"
        );
        if self.durable.log.term_at(self.commit_index + 1) != Some(term) {
            self.reached.note(Event::OldTermCommittedThroughCurrent);
        }
        self.commit_index = index;
        if !leader.committed_in_term {
            leader.committed_in_term = true;
            app.committed_in_term(self, now);
        }
        self.answer_commit_questions();
    }
}
