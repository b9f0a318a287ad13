//! The replica's state as one struct, with the helpers every other file of
//! the replica uses: who is who, the outbox, and the callbacks to the
//! application above.

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::batches::Batches;
use super::members::Members;
use super::progress::Followers;
use super::recovery_answers::Recovery;
use crate::config::Config;
use crate::durable::Durable;
use crate::events::{Event, Reached};
use crate::id::Id;
use crate::log::Log;
use crate::message::Payload;
use crate::outbox::Outbox;
use crate::time::Millis;

/// A node's Raft role, as checkers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleKind {
    Follower,
    /// Asking whether it could win before disturbing anyone (thesis §9.6).
    PreCandidate,
    Candidate,
    Leader,
}

/// What the replica tells the application above it at the moment it
/// happens, within the step that caused it (so that, say, a read confirmed
/// by an acknowledgement is answered in that step). Each call gets the
/// replica back to act through.
pub(crate) trait Application {
    /// This node stopped leading (stepped down, or started an election).
    fn leadership_lost(&mut self, raft: &mut Raft, now: Millis);
    /// This leader committed its first entry of its term: its commit index
    /// is now current (Raft §8), so reads may rely on it.
    fn committed_in_term(&mut self, raft: &mut Raft, now: Millis);
    /// A member acknowledged an AppendEntries round: leadership rounds may
    /// be confirmed.
    fn round_acknowledged(&mut self, raft: &mut Raft, now: Millis);
    /// This member installed the snapshot a leader sent
    /// ([`crate::Durable::snapshot`]): the state machine is to become it.
    fn snapshot_installed(&mut self, raft: &mut Raft, now: Millis);
}

/// What a ReadIndex read can rely on from this replica now.
pub(crate) enum Leadership {
    /// Not the leader.
    None,
    /// The leader, before it committed in its term: its commit index may
    /// be behind what earlier leaders committed.
    Unproven,
    /// The leader with a current commit index; a read registered now is
    /// confirmed by round `next_round` or a later one.
    Current { commit_index: u64, next_round: u64 },
}

pub struct Raft {
    pub(super) config: Config,
    pub(super) members: Option<Members>,
    pub(super) durable: Durable,
    pub(super) rng: ChaCha8Rng,
    pub(super) role: Role,
    /// The leader of the current term, if this node knows it.
    pub(super) leader: Option<usize>,
    pub(super) leader_changed: bool,
    /// When the current leader was last heard from (for pre-vote stickiness).
    pub(super) leader_contact: Millis,
    pub(super) commit_index: u64,
    pub(super) news: News,
    pub(super) election_deadline: Millis,
    /// Messages and diagnostics on their way out.
    pub(super) outbox: Outbox,
    pub(super) batches: Batches,
    /// Set while this node catches up after losing durable state.
    pub(super) recovery: Option<Recovery>,
    /// How often each named event happened here (observed, never acted on).
    pub(super) reached: Reached,
    /// The newest snapshot's text, by its index, once a leader had to send it.
    pub(super) snapshot_text: Option<(u64, Arc<str>)>,
    /// A snapshot arriving from the leader in chunks.
    pub(super) incoming: Option<Incoming>,
    /// Where to compact the log to at the next input (see `snapshots.rs`).
    pub(super) compact_pending: Option<u64>,
}

/// A snapshot being received: its index and term, and its text so far.
pub(super) struct Incoming {
    pub(super) index: u64,
    pub(super) term: u64,
    pub(super) text: String,
    /// Chunks that arrived ahead of the text's end, by offset (the network
    /// reorders a window of chunks in flight), at most a window of them.
    pub(super) ahead: std::collections::BTreeMap<u64, String>,
    /// Where the text ends, once the last chunk (`done`) arrived.
    pub(super) end: Option<u64>,
}

pub(super) enum Role {
    Follower,
    PreCandidate { votes: Vec<bool> },
    Candidate { votes: Vec<bool> },
    Leader(Leader),
}

/// Volatile state on leaders (Raft Figure 2) plus what ReadIndex and check-quorum need.
pub(super) struct Leader {
    pub(super) progress: Followers,
    /// Number of the latest AppendEntries broadcast; acknowledgements echo it.
    pub(super) seq: u64,
    pub(super) heartbeat_due: Millis,
    /// When the entries proposed since the last send go out
    /// (`append_batch_ms` after the first of them), if any wait.
    pub(super) append_due: Option<Millis>,
    pub(super) since: Millis,
    /// Whether an entry of this term is committed (then `commit_index` is current, §8).
    pub(super) committed_in_term: bool,
}

/// A follower's side of commit news (see `commit_news.rs`).
#[derive(Default)]
pub(super) struct News {
    /// The highest index asked about since the leader last changed.
    pub(super) asked: u64,
    /// The newest news heard, `(commit_index, commit_term)`, kept until
    /// this node's log holds the entry it names.
    pub(super) heard: (u64, u64),
}

impl Raft {
    /// A replica rebuilt from its durable state alone (a fresh one from
    /// `Durable::default()`); it joins a cluster in [`Raft::join_cluster`].
    pub(crate) fn restart(config: Config, mut durable: Durable, now: Millis) -> Raft {
        if let Err(why) = config.validate() {
            panic!("invalid node config: {why}");
        }
        durable.starts += 1;
        let mut commit_index = 0;
        if let Some(snapshot) = durable.snapshot.clone() {
            // What a snapshot covers is committed. A log that does not hold
            // its last entry (a crash before the log caught up on disk)
            // starts after it.
            if durable.log.term_at(snapshot.index) != Some(snapshot.term) {
                durable.log.reset_to(snapshot.index, snapshot.term);
            }
            commit_index = snapshot.index;
        }
        let batches = Batches::recovered(durable.log.last_index(), !config.wait_for_disk);
        Raft {
            rng: ChaCha8Rng::seed_from_u64(config.rng_seed),
            config,
            members: None,
            durable,
            role: Role::Follower,
            leader: None,
            leader_changed: false,
            leader_contact: now,
            commit_index,
            news: News::default(),
            election_deadline: now,
            outbox: Outbox::default(),
            batches,
            recovery: None,
            reached: Reached::default(),
            snapshot_text: None,
            incoming: None,
            compact_pending: None,
        }
    }

    // ------------------------------------------------------ read-only face

    pub fn id(&self) -> Option<&Id> {
        let members = self.members.as_ref()?;
        Some(&members.ids[members.me])
    }

    pub fn role(&self) -> RoleKind {
        match self.role {
            Role::Follower => RoleKind::Follower,
            Role::PreCandidate { .. } => RoleKind::PreCandidate,
            Role::Candidate { .. } => RoleKind::Candidate,
            Role::Leader(_) => RoleKind::Leader,
        }
    }

    pub fn term(&self) -> u64 {
        self.durable.current_term
    }

    /// The leader of the current term, by id, if this node knows it.
    pub fn leader(&self) -> Option<&Id> {
        Some(&self.members.as_ref()?.ids[self.leader?])
    }

    /// The leader of the current term, by member position.
    pub(crate) fn leader_index(&self) -> Option<usize> {
        self.leader
    }

    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    pub fn log(&self) -> &Log {
        &self.durable.log
    }

    /// Term, vote and log: all a restart needs.
    pub fn durable(&self) -> &Durable {
        &self.durable
    }

    /// Every member's id, this node's included, once `init` named them.
    pub fn member_ids(&self) -> Option<&[Id]> {
        Some(&self.members.as_ref()?.ids)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How often each named event happened at this node since it started.
    pub fn reached(&self) -> &Reached {
        &self.reached
    }

    /// Whether this node is still catching up after losing state.
    pub fn is_recovering(&self) -> bool {
        self.recovery.is_some()
    }

    /// Whether part of a snapshot has arrived here and the rest has not.
    pub fn is_receiving_snapshot(&self) -> bool {
        self.incoming.is_some()
    }

    /// How far the log is durable, as far as the runtime has reported.
    pub fn synced_index(&self) -> u64 {
        self.batches.synced_index()
    }

    /// Why the runtime could not write the last batches, until one is
    /// durable again.
    pub(crate) fn persist_failure(&self) -> Option<&str> {
        self.batches.failure.as_deref()
    }

    /// Whether `init` named the members yet.
    pub(crate) fn has_joined(&self) -> bool {
        self.members.is_some()
    }

    /// Whether this leader's log runs so far past its commit index that a
    /// client's write should wait before it is appended (see
    /// [`Config::backlog_windows_max`]).
    pub(crate) fn backlog_full(&self) -> bool {
        let c = &self.config;
        let bound = (c.append_entries_max * c.append_in_flight_max * c.backlog_windows_max) as u64;
        self.durable.log.last_index() - self.commit_index.min(self.durable.log.last_index())
            >= bound
    }

    pub(crate) fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// This node's position among the members.
    pub(crate) fn me_index(&self) -> usize {
        self.members().me
    }

    pub(crate) fn me(&self) -> Id {
        let members = self.members();
        members.ids[members.me].clone()
    }

    /// The id of the member at `position`.
    pub(crate) fn member_id(&self, position: usize) -> &Id {
        &self.members().ids[position]
    }

    pub(crate) fn member_index(&self, id: &Id) -> Option<usize> {
        self.members.as_ref()?.ids.iter().position(|m| m == id)
    }

    /// `n1, n2, n3`: the members for a person to read, once known.
    pub(crate) fn member_list(&self) -> Option<String> {
        Some(self.members.as_ref()?.list())
    }

    pub(super) fn members(&self) -> &Members {
        self.members
            .as_ref()
            .expect("only called after init: callers check `members`")
    }

    // ------------------------------------------------------------ ReadIndex

    /// What a read arriving now can rely on (see [`Leadership`]).
    pub(crate) fn leadership(&self) -> Leadership {
        match &self.role {
            Role::Leader(leader) if leader.committed_in_term => Leadership::Current {
                commit_index: self.commit_index,
                next_round: leader.seq + 1,
            },
            Role::Leader(_) => Leadership::Unproven,
            _ => Leadership::None,
        }
    }

    /// Whether a majority (this leader included) acknowledged round `seq`
    /// or a later one; never, on a node that does not lead.
    pub(crate) fn round_confirmed(&self, seq: u64) -> bool {
        match &self.role {
            Role::Leader(leader) => leader.progress.acked_by_majority(seq),
            _ => false,
        }
    }

    // ---------------------------------------------------- leader changes out

    pub(super) fn set_leader(&mut self, leader: Option<usize>) {
        if self.leader != leader {
            self.leader = leader;
            self.leader_changed = true;
            // A new leader knows nothing of what the old one was asked.
            self.news.asked = 0;
        }
    }

    /// Whether the leader changed since the last call.
    pub(crate) fn take_leader_changed(&mut self) -> bool {
        std::mem::take(&mut self.leader_changed)
    }

    /// A leader's next heartbeat, or anyone else's election deadline.
    pub(crate) fn next_role_timer(&self) -> Millis {
        match &self.role {
            Role::Leader(leader) => match leader.append_due {
                Some(due) => due.min(leader.heartbeat_due),
                None => leader.heartbeat_due,
            },
            _ => self.election_deadline,
        }
    }

    // ------------------------------------------------------------------ out

    pub(crate) fn note(&mut self, event: Event) {
        self.reached.note(event);
    }

    pub(crate) fn warn(&mut self, text: String) {
        self.outbox.warn(text);
    }

    /// Queues a message from this node; every message gets the next `msg_id`.
    pub(crate) fn send(&mut self, dest: Id, in_reply_to: Option<u64>, payload: Payload) {
        let src = self.me();
        self.send_from(src, dest, in_reply_to, payload);
    }

    pub(crate) fn send_to_member(&mut self, member: usize, payload: Payload) {
        let dest = self.members().ids[member].clone();
        self.send(dest, None, payload);
    }

    /// Queues a message with any sender (a reply to `init` speaks as the
    /// node it names); it leaves once the state it reflects is durable.
    pub(crate) fn send_from(
        &mut self,
        src: Id,
        dest: Id,
        in_reply_to: Option<u64>,
        payload: Payload,
    ) {
        let waits_for = self.batches.batch_to_wait_for(&payload);
        if !self.batches.is_durable(waits_for) {
            self.note(Event::ReplyWaitedForDisk);
        }
        self.outbox.push(src, dest, in_reply_to, payload, waits_for);
    }

    /// The next message to send, skipping those that wait for durable state.
    pub(crate) fn poll_transmit(&mut self) -> Option<crate::message::Envelope> {
        let batches = &self.batches;
        self.outbox.pop(|batch| batches.is_durable(batch))
    }

    pub(crate) fn poll_warning(&mut self) -> Option<String> {
        self.outbox.pop_warning()
    }

    /// The match index the leader holds for `member` (tests only).
    #[cfg(test)]
    pub(crate) fn match_index_of(&self, member: usize) -> Option<u64> {
        match &self.role {
            Role::Leader(leader) => Some(leader.progress[member].match_index),
            _ => None,
        }
    }
}
