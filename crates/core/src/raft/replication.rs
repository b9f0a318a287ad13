//! Log replication (Raft §5.3), the messages: a follower's handling of
//! AppendEntries, and a leader's of the acknowledgements. What a leader
//! sends, and the commit rule, are `leader_sends.rs`.

use super::snapshots::Chunk;
use super::state::{Application, Raft, Role};
use crate::events::Event;
use crate::message::*;
use crate::time::Millis;

impl Raft {
    // Longer than 70 lines on purpose: the receiver's rules of Raft Figure 2 (and §5.3), one after another in the paper's order.
    pub(super) fn on_append_entries(
        &mut self,
        now: Millis,
        from: usize,
        request: AppendEntries,
        app: &mut impl Application,
    ) {
        if let Err(why) = well_formed(&request) {
            let text = format!(
                "dropping append_entries from {}: {why}",
                self.members().ids[from]
            );
            return self.warn(text);
        }
        match self.hear_leader(now, from, request.term, "append_entries", app) {
            FromLeader::Stale => {
                // Only tells the sender its term is over. Round 0 answers
                // no round: the sender may lead again in this very term (a
                // new life of it), and its rounds there count from 1 again,
                // so echoing the old round would confirm one of the new
                // leadership's rounds with an answer sent before it began.
                let reply = AppendEntriesOk {
                    term: self.durable.current_term,
                    success: false,
                    match_index: 0,
                    next_index_hint: 0,
                    seq: NO_ROUND,
                };
                let reply = Payload::Peer(PeerMsg::AppendEntriesOk(reply));
                return self.send_to_member(from, reply);
            }
            FromLeader::Refused => return,
            FromLeader::Follow => {}
        }

        let log = &self.durable.log;
        let prev = request.prev_log_index;
        let mut reply = AppendEntriesOk {
            term: self.durable.current_term,
            success: false,
            match_index: 0,
            next_index_hint: 0,
            seq: request.seq,
        };
        match log.term_at(prev) {
            None => {
                reply.next_index_hint = log.last_index() + 1;
                self.reached.note(Event::AppendRejectedMismatch);
            }
            Some(term) if term != request.prev_log_term => {
                // Log Matching (§5.3) with Leader Completeness (§5.4): a current
                // leader agrees with every committed entry.
                assert!(
                    prev > self.commit_index,
                    "committed entry {prev} (term {term}) differs from the leader's (term {})",
                    request.prev_log_term
                );
                let first = log.first_index_of_term(term, prev);
                reply.next_index_hint = first.max(self.commit_index + 1);
                self.reached.note(Event::AppendRejectedMismatch);
            }
            Some(_) => {
                let count = request.entries.len() as u64;
                for (offset, entry) in request.entries.into_iter().enumerate() {
                    let index = prev + 1 + offset as u64;
                    match self.durable.log.term_at(index) {
                        Some(term) if term == entry.term => {}
                        Some(_) => {
                            assert!(
                                index > self.commit_index,
                                "a committed entry ({index}) is never overwritten"
                            );
                            self.replace_in_log(index, entry);
                        }
                        None => self.append_to_log(entry),
                    }
                }
                let match_index = prev + count;
                // Only what this request proved matching may be committed here:
                // entries past it could still be a stale leader's.
                let commit = request.leader_commit.min(match_index);
                if commit > self.commit_index {
                    self.commit_index = commit;
                }
                self.use_commit_news();
                reply.success = true;
                reply.match_index = match_index;
            }
        }
        self.send_to_member(from, Payload::Peer(PeerMsg::AppendEntriesOk(reply)));
    }

    pub(super) fn on_append_entries_ok(
        &mut self,
        now: Millis,
        from: usize,
        reply: AppendEntriesOk,
        app: &mut impl Application,
    ) {
        if !self.hear_answer(now, from, reply.term, reply.seq, app) {
            return;
        }
        let last_index = self.durable.log.last_index();
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let progress = &mut leader.progress[from];
        if reply.seq < progress.answers_from_seq {
            // Sent before the member lost entries: it says nothing of now.
            return;
        }
        if reply.success {
            if reply.match_index > last_index {
                let text = format!(
                    "{} claims to match index {} beyond my log ({last_index})",
                    self.members().ids[from],
                    reply.match_index
                );
                return self.warn(text);
            }
            progress.match_index = progress.match_index.max(reply.match_index);
            progress.next_index = progress.next_index.max(progress.match_index + 1);
            progress.settled_up_to(reply.match_index);
            progress.note_caught_up(self.commit_index, self.config.compaction_margin);
            let commit_before = self.commit_index;
            self.advance_commit(now, app);
            if self.commit_index > commit_before {
                // The commit opens every window it settles: slower members
                // get what waited at the majority's pace.
                self.replicate(now);
            } else if let Role::Leader(leader) = &mut self.role {
                let window = self.config.append_in_flight_max;
                if leader.progress[from].ready_for_entries(last_index, window, commit_before) {
                    self.send_append(now, from);
                }
            }
        } else {
            // A refusal below `match_index` refuses entries the member has
            // acknowledged: it is late (reordered), or the member's disk
            // lost them. Either way it is answered once per round: answering
            // every copy makes a member that keeps refusing, on a
            // duplicating network, a storm of ever more messages.
            if reply.next_index_hint <= progress.match_index {
                if progress.refused_seq == reply.seq {
                    return app.round_acknowledged(self, now);
                }
                progress.refused_seq = reply.seq;
            }
            progress.next_index = reply
                .next_index_hint
                .clamp(progress.match_index + 1, last_index + 1);
            // What was in flight past the refusal is lost or refused too.
            progress.in_flight.clear();
            self.send_append(now, from);
        }
        app.round_acknowledged(self, now);
    }
}

impl Raft {
    /// A chunk of the leader's snapshot (thesis §5.4.2): taken like an
    /// AppendEntries as far as terms and leadership go; once whole, and
    /// newer than what this member committed, installed.
    pub(super) fn on_install_snapshot(
        &mut self,
        now: Millis,
        from: usize,
        message: InstallSnapshot,
        app: &mut impl Application,
    ) {
        let mut reply = InstallSnapshotOk {
            term: self.durable.current_term,
            last_index: message.last_index,
            next_offset: 0,
            done: false,
            seq: message.seq,
        };
        match self.hear_leader(now, from, message.term, "install_snapshot", app) {
            FromLeader::Stale => {
                // As for a stale AppendEntries: a term notice, no round.
                reply.seq = NO_ROUND;
                let reply = Payload::Peer(PeerMsg::InstallSnapshotOk(reply));
                return self.send_to_member(from, reply);
            }
            FromLeader::Refused => return,
            FromLeader::Follow => {}
        }
        reply.term = self.durable.current_term;
        match self.take_chunk(message) {
            Chunk::Held { next_offset } => reply.next_offset = next_offset,
            Chunk::Covered => reply.done = true,
            Chunk::Complete { snapshot, bytes } => {
                reply.next_offset = bytes;
                self.install(snapshot);
                self.use_commit_news();
                app.snapshot_installed(self, now);
                reply.done = true;
            }
        }
        self.send_to_member(from, Payload::Peer(PeerMsg::InstallSnapshotOk(reply)));
    }

    /// A member's answer to a chunk: the next chunk, or, once the member
    /// holds the snapshot, entries from after it.
    pub(super) fn on_install_snapshot_ok(
        &mut self,
        now: Millis,
        from: usize,
        reply: InstallSnapshotOk,
        app: &mut impl Application,
    ) {
        if !self.hear_answer(now, from, reply.term, reply.seq, app) {
            return;
        }
        let last_index = self.durable.log.last_index();
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let progress = &mut leader.progress[from];
        if reply.seq < progress.answers_from_seq {
            // Sent before the member lost entries: it says nothing of now.
            return;
        }
        if reply.done {
            if reply.last_index > last_index {
                let text = format!(
                    "{} claims a snapshot to index {} beyond my log ({last_index})",
                    self.members().ids[from],
                    reply.last_index
                );
                return self.warn(text);
            }
            progress.snapshot_sent = None;
            progress.after_snapshot = true;
            progress.match_index = progress.match_index.max(reply.last_index);
            progress.next_index = progress.next_index.max(progress.match_index + 1);
            progress.in_flight.clear();
            self.advance_commit(now, app);
            self.send_append(now, from);
        } else if let Some(sending) = progress
            .snapshot_sent
            .as_mut()
            .filter(|s| s.index == reply.last_index)
        {
            // Only an answer that moves the member on sends more chunks
            // (those the window now has room for): a copy, or an answer to
            // a chunk out of order, would put chunks in flight twice, and
            // each draws an answer of its own. An answer of 0 after the
            // member acknowledged some means it holds none of it now (it
            // restarted): from the start.
            let moved_on = reply.next_offset > sending.acked;
            let went_back = reply.next_offset == 0 && sending.acked > 0;
            if moved_on || went_back {
                sending.acked = reply.next_offset.min(sending.text.len() as u64);
                if went_back {
                    sending.sent = 0;
                }
                sending.sent = sending.sent.max(sending.acked);
                self.send_snapshot_chunks(now, from, super::snapshots::SNAPSHOT_CHUNKS_IN_FLIGHT);
            }
        }
        app.round_acknowledged(self, now);
    }
}

/// What a member does with a message only a leader of `term` sends.
enum FromLeader {
    /// An older term's: answered with this member's term, so the sender
    /// learns it was deposed.
    Stale,
    /// Claims the leadership this node holds itself: dropped, said.
    Refused,
    /// From the current leader, who is now followed (and heard from).
    Follow,
}

impl Raft {
    /// An answer from member `from` to this leader's AppendEntries or
    /// InstallSnapshot: a newer term deposes this node (§5.1); one of an
    /// older term, or reaching a node that no longer leads, is dropped;
    /// otherwise the member was heard from and acknowledged round `seq`.
    /// Whether the answer is to be acted on.
    fn hear_answer(
        &mut self,
        now: Millis,
        from: usize,
        term: u64,
        seq: u64,
        app: &mut impl Application,
    ) -> bool {
        if term > self.durable.current_term {
            self.adopt_term(now, term, app);
            return false;
        }
        let current = self.durable.current_term;
        let Role::Leader(leader) = &mut self.role else {
            return false;
        };
        // An answer to an older term's request (round 0) is only a term
        // notice: it acknowledges nothing this leader sent.
        if term < current {
            return false;
        }
        if seq == NO_ROUND {
            self.reached.note(Event::TermNoticeInOwnTerm);
            return false;
        }
        let progress = &mut leader.progress[from];
        progress.acked_seq = progress.acked_seq.max(seq);
        progress.last_heard = now;
        true
    }

    /// Terms and leadership for AppendEntries and InstallSnapshot alike
    /// (§5.1, Figure 2's receiver rules 1): a newer term is adopted, a
    /// candidate of this term steps back, and the sender is the leader,
    /// just heard from.
    fn hear_leader(
        &mut self,
        now: Millis,
        from: usize,
        term: u64,
        kind: &str,
        app: &mut impl Application,
    ) -> FromLeader {
        if term < self.durable.current_term {
            return FromLeader::Stale;
        }
        if term > self.durable.current_term {
            self.adopt_term(now, term, app);
        }
        match self.role {
            Role::Leader(_) => {
                let text = format!(
                    "{kind} from {} claims leadership of my own term {term}",
                    self.members().ids[from]
                );
                self.warn(text);
                return FromLeader::Refused;
            }
            Role::PreCandidate { .. } | Role::Candidate { .. } => self.become_follower(now, app),
            Role::Follower => {}
        }
        self.set_leader(Some(from));
        self.leader_contact = now;
        self.arm_election_timer(now);
        FromLeader::Follow
    }
}

/// Checks what any Raft leader's AppendEntries satisfies, so that a
/// malformed one is refused before it can reach the log's invariants.
fn well_formed(request: &AppendEntries) -> Result<(), String> {
    if request.prev_log_index == 0 && request.prev_log_term != 0 {
        return Err(format!(
            "prev_log_term {} at index 0 (the empty prefix has term 0)",
            request.prev_log_term
        ));
    }
    if request.prev_log_term > request.term {
        return Err(format!(
            "prev_log_term {} is newer than the message's term {}",
            request.prev_log_term, request.term
        ));
    }
    let mut previous = request.prev_log_term;
    for entry in &request.entries {
        if entry.term < previous || entry.term > request.term {
            return Err(format!(
                "entry terms must rise from prev_log_term {} to at most term {}, found {}",
                request.prev_log_term, request.term, entry.term
            ));
        }
        previous = entry.term;
    }
    Ok(())
}
