//! The sans-IO store node.
//!
//! Call contract (quinn-proto style): feed every input through
//! [`Node::handle_message`] or [`Node::handle_timeout`], then drain
//! [`Node::poll_transmit`] until it returns `None`, then ask
//! [`Node::poll_timeout`] when to call `handle_timeout` next. Messages may be
//! sent as soon as they are polled: the durable state ([`Node::durable`])
//! already covers them.

mod apply;
mod client;
mod commit_news;
mod election;
mod members;
mod outbox;
mod persist;
mod progress;
#[cfg(test)]
mod raft_tests;
mod read_index;
mod recovery;
mod replication;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::{Cluster, Config};
use crate::durable::Durable;
use crate::events::{Event, Reached};
use crate::id::Id;
use crate::kv::Kv;
use crate::log::Log;
use crate::message::*;
use crate::time::Millis;
use members::Members;

/// A node's Raft role, as checkers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleKind {
    Follower,
    /// Asking whether it could win before disturbing anyone (thesis §9.6).
    PreCandidate,
    Candidate,
    Leader,
}

pub struct Node {
    config: Config,
    members: Option<Members>,
    durable: Durable,
    rng: ChaCha8Rng,
    role: Role,
    /// The leader of the current term, if this node knows it.
    leader: Option<usize>,
    leader_changed: bool,
    /// When the current leader was last heard from (for pre-vote stickiness).
    leader_contact: Millis,
    commit_index: u64,
    /// When this node learnt each commit index it has not yet applied up to:
    /// (index, time), oldest first. Entries apply `apply_delay_ms` after.
    commits_learnt: VecDeque<(u64, Millis)>,
    news: commit_news::News,
    kv: Kv,
    election_deadline: Millis,
    /// Messages and diagnostics on their way out.
    outbox: outbox::Outbox,
    persist: persist::Persistence,
    ops: client::Ops,
    /// Set while this node catches up after losing durable state.
    recovery: Option<recovery::Recovery>,
    /// How often each named event happened here (observed, never acted on).
    reached: Reached,
}

/// The node's timers, by name; `handle_timeout` is due at the soonest.
struct Timers {
    /// A leader's next heartbeat, or anyone else's election deadline.
    raft: Millis,
    /// The next deadline, wait bound or retry of a client operation.
    client_ops: Option<Millis>,
    /// When committed entries fall due to be applied (apply lag).
    apply: Option<Millis>,
    /// When a recovering node asks a silent member again.
    probe: Option<Millis>,
}

impl Timers {
    fn soonest(&self) -> Millis {
        [self.client_ops, self.apply, self.probe]
            .into_iter()
            .flatten()
            .fold(self.raft, Millis::min)
    }
}

enum Role {
    Follower,
    PreCandidate { votes: Vec<bool> },
    Candidate { votes: Vec<bool> },
    Leader(Leader),
}

/// Volatile state on leaders (Raft Figure 2) plus what ReadIndex and check-quorum need.
struct Leader {
    progress: progress::Followers,
    /// Number of the latest AppendEntries broadcast; acknowledgements echo it.
    seq: u64,
    heartbeat_due: Millis,
    since: Millis,
    /// Whether an entry of this term is committed (then `commit_index` is current, §8).
    committed_in_term: bool,
}

impl Node {
    /// A fresh node. With `config.cluster` set it joins at once; otherwise it
    /// waits for a Maelstrom `init`.
    pub fn new(config: Config, now: Millis) -> Node {
        Node::restart(config, Durable::default(), now)
    }

    /// Rebuilds a node after a crash from its durable state alone.
    pub fn restart(config: Config, mut durable: Durable, now: Millis) -> Node {
        if let Err(why) = config.validate() {
            panic!("invalid node config: {why}");
        }
        durable.starts += 1;
        let cluster = config.cluster.clone();
        let incarnation = config.incarnation;
        let persist =
            persist::Persistence::recovered(durable.log.last_index(), !config.wait_for_disk);
        let mut node = Node {
            rng: ChaCha8Rng::seed_from_u64(config.rng_seed),
            config,
            members: None,
            durable,
            role: Role::Follower,
            leader: None,
            leader_changed: false,
            leader_contact: now,
            commit_index: 0,
            commits_learnt: VecDeque::new(),
            news: commit_news::News::default(),
            kv: Kv::default(),
            election_deadline: now,
            outbox: outbox::Outbox::default(),
            persist,
            ops: client::Ops::starting_at(incarnation),
            recovery: None,
            reached: Reached::default(),
        };
        if let Some(cluster) = cluster {
            node.join(cluster, now);
        }
        node
    }

    fn join(&mut self, cluster: Cluster, now: Millis) {
        let me = cluster
            .members
            .iter()
            .position(|id| *id == cluster.me)
            .expect("validated: a node is one of the members");
        // Each node draws its own timeouts even when every node has the same seed.
        let mixed = self.config.rng_seed ^ fnv1a(cluster.me.to_string().as_bytes());
        self.rng = ChaCha8Rng::seed_from_u64(mixed);
        self.members = Some(Members {
            me,
            ids: cluster.members,
        });
        self.begin_recovery_if_needed(now);
        if self.members().majority() == 1 {
            // A cluster of one needs no votes: lead at once, so piped requests work.
            self.start_election(now);
        } else {
            self.arm_election_timer(now);
        }
    }

    pub fn handle_message(&mut self, now: Millis, envelope: Envelope) {
        let Envelope { src, dest, body } = envelope;
        if let Some(me) = self.id() {
            if dest != *me {
                // Misrouted: answering would mean speaking as another node.
                let text = format!(
                    "dropping {} from {src} addressed to {dest}, not to {me}",
                    body.payload.type_name()
                );
                return self.warn(text);
            }
        }
        let Body {
            msg_id, payload, ..
        } = body;
        match payload {
            Payload::Init { node_id, node_ids } => {
                self.on_init(now, src, dest, msg_id, node_id, node_ids)
            }
            Payload::Invalid(invalid) => self.on_invalid(src, dest, msg_id, invalid),
            Payload::Request(_) if self.members.is_none() => {
                let text = format!("{} is not initialised yet: send init first", dest);
                let error = OpResult::error(ErrorCode::TEMPORARILY_UNAVAILABLE, text);
                self.send_from(dest, src, msg_id, Payload::Reply(error));
            }
            Payload::Request(op) => self.on_client_request(now, src, msg_id, op),
            Payload::InitOk | Payload::Reply(_) => {
                self.warn(format!(
                    "ignoring unexpected {} from {src}",
                    payload.type_name()
                ));
            }
            Payload::Peer(message) => match self.member_index(&src) {
                Some(from) if from != self.members().me => self.on_peer_message(now, from, message),
                _ => self.refuse_internal(src, dest, msg_id, message.type_name()),
            },
        }
        self.settle(now);
    }

    fn on_peer_message(&mut self, now: Millis, from: usize, message: PeerMsg) {
        self.probe_on_contact(now, from);
        match message {
            PeerMsg::RequestVote(rv) => self.on_request_vote(now, from, rv),
            PeerMsg::RequestVoteOk(r) => self.on_request_vote_ok(now, from, r),
            PeerMsg::AppendEntries(ae) => self.on_append_entries(now, from, ae),
            PeerMsg::AppendEntriesOk(r) => self.on_append_entries_ok(now, from, r),
            PeerMsg::Forward(f) => self.on_forward(now, from, f),
            PeerMsg::ForwardOk(f) => self.on_forward_ok(now, f),
            PeerMsg::CommitWanted(w) => self.on_commit_wanted(from, w),
            PeerMsg::CommitNews(n) => self.on_commit_news(n),
            PeerMsg::Probe(p) => self.on_probe(from, p),
            PeerMsg::ProbeOk(p) => self.on_probe_ok(now, from, p),
        }
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        if self.members.is_none() {
            return;
        }
        if let Role::Leader(leader) = &self.role {
            if now >= leader.heartbeat_due {
                if self.has_quorum_contact(now) {
                    self.heartbeat(now);
                } else {
                    let term = self.durable.current_term;
                    self.warn(format!(
                        "stepping down in term {term}: no contact with a majority"
                    ));
                    self.note(Event::CheckQuorumStepDown);
                    self.become_follower(now);
                }
            }
        } else if now >= self.election_deadline {
            if self.is_recovering() {
                self.recovery_timeout(now);
            } else {
                self.start_pre_vote(now);
            }
        }
        if self.next_probe_at().is_some_and(|at| now >= at) {
            self.probe_all_due(now);
        }
        self.expire_ops(now);
        self.settle(now);
    }

    /// The next message to send, in the order the node produced them,
    /// skipping those that wait for durable state (see [`crate::durable`]).
    pub fn poll_transmit(&mut self) -> Option<Envelope> {
        let persist = &self.persist;
        self.outbox.pop(|batch| persist.is_durable(batch))
    }

    /// When the node next needs `handle_timeout`; `None` before `init`.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.members.as_ref()?;
        Some(self.timers().soonest())
    }

    /// Every timer the node keeps, by name.
    fn timers(&self) -> Timers {
        Timers {
            raft: match &self.role {
                Role::Leader(leader) => leader.heartbeat_due,
                _ => self.election_deadline,
            },
            client_ops: self.ops.next_timer(),
            apply: self.next_apply_at(),
            probe: self.next_probe_at(),
        }
    }

    /// Diagnostics for a human (bad peer input, step-downs); drained by the runtime.
    pub fn poll_warning(&mut self) -> Option<String> {
        self.outbox.pop_warning()
    }

    // ------------------------------------------------------ read-only accessors

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

    pub fn leader(&self) -> Option<&Id> {
        Some(&self.members.as_ref()?.ids[self.leader?])
    }

    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    pub fn applied_index(&self) -> u64 {
        self.kv.applied_index()
    }

    pub fn log(&self) -> &Log {
        &self.durable.log
    }

    pub fn kv(&self) -> &Kv {
        &self.kv
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

    // ------------------------------------------------------------- internals

    fn members(&self) -> &Members {
        self.members
            .as_ref()
            .expect("only called after init: callers check `members`")
    }

    fn me(&self) -> Id {
        let members = self.members();
        members.ids[members.me].clone()
    }

    fn member_index(&self, id: &Id) -> Option<usize> {
        self.members.as_ref()?.ids.iter().position(|m| m == id)
    }

    fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    fn set_leader(&mut self, leader: Option<usize>) {
        if self.leader != leader {
            self.leader = leader;
            self.leader_changed = true;
            self.forget_commit_questions();
        }
    }

    /// Work that follows any input: apply what committed, serve what waited
    /// for it, and re-route operations when the leader changed.
    fn settle(&mut self, now: Millis) {
        self.finish_recovery_if_caught_up();
        self.apply_committed(now);
        if std::mem::take(&mut self.leader_changed) {
            self.reroute_on_leader_change(now);
        }
        self.ops.prune_timers();
    }

    fn on_init(
        &mut self,
        now: Millis,
        src: Id,
        dest: Id,
        msg_id: Option<u64>,
        node_id: Id,
        node_ids: Vec<Id>,
    ) {
        let cluster = Cluster {
            me: node_id,
            members: node_ids,
        };
        let refusal = match (&self.members, cluster.validate()) {
            (_, Err(why)) => Some((ErrorCode::MALFORMED_REQUEST, why)),
            (Some(members), Ok(()))
                if members.ids != cluster.members || self.me() != cluster.me =>
            {
                Some((
                    ErrorCode::PRECONDITION_FAILED,
                    format!("already initialised as {} of {}", self.me(), members.list()),
                ))
            }
            _ => None,
        };
        if let Some((code, text)) = refusal {
            let payload = Payload::Reply(OpResult::error(code, text));
            return self.send_from(dest, src, msg_id, payload);
        }
        let first_init = self.members.is_none();
        self.send_from(cluster.me.clone(), src, msg_id, Payload::InitOk);
        if first_init {
            self.join(cluster, now);
        }
    }

    fn on_invalid(&mut self, src: Id, dest: Id, msg_id: Option<u64>, invalid: Invalid) {
        let Invalid {
            type_name,
            code,
            text,
            peer,
        } = invalid;
        if peer {
            if self.member_index(&src).is_none() {
                return self.refuse_internal(src, dest, msg_id, &type_name);
            }
            // A peer's message we cannot read: answering would only confuse it.
            return self.warn(format!("dropping malformed {type_name} from {src}: {text}"));
        }
        let text = if type_name.is_empty() {
            text
        } else {
            format!("{type_name}: {text}")
        };
        if msg_id.is_none() {
            // Nothing to reply to: say so on the node's log instead.
            return self.warn(format!(
                "ignoring a malformed message from {src} without msg_id: {text}"
            ));
        }
        self.send_from(
            dest,
            src,
            msg_id,
            Payload::Reply(OpResult::error(code, text)),
        );
    }

    fn refuse_internal(&mut self, src: Id, dest: Id, msg_id: Option<u64>, type_name: &str) {
        let text = match &self.members {
            None => format!("{type_name} from {src} before init: ignored"),
            Some(members) => format!(
                "{type_name} is a message between cluster nodes and {src} is not one of {}",
                members
                    .ids
                    .iter()
                    .map(Id::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.warn(text.clone());
        if msg_id.is_some() && self.members.is_some() {
            let error = OpResult::error(ErrorCode::NOT_SUPPORTED, text);
            self.send_from(dest, src, msg_id, Payload::Reply(error));
        }
    }

    fn note(&mut self, event: Event) {
        self.reached.note(event);
    }

    fn warn(&mut self, text: String) {
        self.outbox.warn(text);
    }

    /// Queues a message from this node; every message gets the next `msg_id`.
    fn send(&mut self, dest: Id, in_reply_to: Option<u64>, payload: Payload) {
        let src = self.me();
        self.send_from(src, dest, in_reply_to, payload);
    }

    fn send_to_member(&mut self, member: usize, payload: Payload) {
        let dest = self.members().ids[member].clone();
        self.send(dest, None, payload);
    }

    fn send_from(&mut self, src: Id, dest: Id, in_reply_to: Option<u64>, payload: Payload) {
        let waits_for = self.batch_to_wait_for(&payload);
        if !self.persist.is_durable(waits_for) {
            self.note(Event::ReplyWaitedForDisk);
        }
        self.outbox.push(src, dest, in_reply_to, payload, waits_for);
    }
}

/// FNV-1a: a stable hash (unlike std's randomly keyed one) for seeding.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Members {
    /// `n1, n2, n3`: the members for a person to read.
    fn list(&self) -> String {
        let ids: Vec<String> = self.ids.iter().map(Id::to_string).collect();
        ids.join(", ")
    }
}

// Declared last so that adding it moved no line above (mutation results
// name mutants by line).
#[cfg(test)]
mod face_tests;
#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod persist_tests;
#[cfg(test)]
mod recovery_tests;
