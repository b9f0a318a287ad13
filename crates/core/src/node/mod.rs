//! The sans-IO store node: the glue between the Raft replica
//! ([`crate::raft`]) and the serving layer ([`crate::serve`]).
//!
//! Call contract (quinn-proto style): feed every input through
//! [`Node::handle_message`] or [`Node::handle_timeout`], then drain
//! [`Node::poll_transmit`] until it returns `None`, then ask
//! [`Node::poll_timeout`] when to call `handle_timeout` next. Messages may be
//! sent as soon as they are polled: the durable state ([`Node::durable`])
//! already covers them.

mod face;
#[cfg(test)]
mod face_tests;
#[cfg(test)]
mod tests;

use crate::config::Config;
use crate::durable::{Durable, PersistBatch};
use crate::events::Reached;
use crate::id::Id;
use crate::kv::Kv;
use crate::log::Log;
use crate::message::*;
use crate::raft::Raft;
pub use crate::raft::RoleKind;
pub use crate::serve::ReadsWaiting;
use crate::serve::Serve;
use crate::time::Millis;

/// A store node: the Raft replica and the serving layer on top of it.
/// Input goes to whichever of the two it is for; the serving layer is
/// handed the replica to act through, and the replica calls back only
/// through [`crate::raft::Application`]. Every output leaves through the
/// replica's outbox.
pub struct Node {
    raft: Raft,
    serve: Serve,
}

impl Node {
    /// A fresh node. With `config.cluster` set it joins at once; otherwise it
    /// waits for a Maelstrom `init`.
    pub fn new(config: Config, now: Millis) -> Node {
        Node::restart(config, Durable::default(), now)
    }

    /// Rebuilds a node after a crash from its durable state alone.
    pub fn restart(config: Config, durable: Durable, now: Millis) -> Node {
        let cluster = config.cluster.clone();
        let incarnation = config.incarnation;
        let serve = Serve::new(incarnation, durable.snapshot.as_deref());
        let mut node = Node {
            raft: Raft::restart(config, durable, now),
            serve,
        };
        if let Some(cluster) = cluster {
            node.raft.join_cluster(cluster, now, &mut node.serve);
        }
        node
    }

    pub fn handle_message(&mut self, now: Millis, envelope: Envelope) {
        self.raft.compact_if_due();
        let Envelope { src, dest, body } = envelope;
        if let Some(me) = self.raft.id() {
            if dest != *me {
                // Misrouted: answering would mean speaking as another node.
                let text = format!(
                    "dropping {} from {src} addressed to {dest}, not to {me}",
                    body.payload.type_name()
                );
                return self.raft.warn(text);
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
            Payload::Request(_) if !self.raft.has_joined() => {
                let text = format!("{} is not initialised yet: send init first", dest);
                let error = OpResult::error(ErrorCode::TEMPORARILY_UNAVAILABLE, text);
                self.raft
                    .send_from(dest, src, msg_id, Payload::Reply(error));
            }
            Payload::Request(op) => {
                self.serve
                    .on_client_request(&mut self.raft, now, src, msg_id, op)
            }
            Payload::InitOk | Payload::Reply(_) => {
                self.raft.warn(format!(
                    "ignoring unexpected {} from {src}",
                    payload.type_name()
                ));
            }
            Payload::Peer(message) => match self.raft.member_index(&src) {
                Some(from) if from != self.raft.me_index() => {
                    self.on_peer_message(now, from, message)
                }
                _ => self.refuse_internal(src, dest, msg_id, message.type_name()),
            },
        }
        self.settle(now);
    }

    /// A member's message: the serving layer's forwarding to it, the rest
    /// (the Raft protocol) to the replica.
    fn on_peer_message(&mut self, now: Millis, from: usize, message: PeerMsg) {
        self.raft.heard_from(now, from);
        let (raft, serve) = (&mut self.raft, &mut self.serve);
        match message {
            PeerMsg::Forward(f) => serve.on_forward(raft, now, from, f),
            PeerMsg::ForwardOk(f) => serve.on_forward_ok(raft, now, f),
            message => raft.step(now, from, message, serve),
        }
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        if !self.raft.has_joined() {
            return;
        }
        self.raft.compact_if_due();
        self.raft.tick(now, &mut self.serve);
        self.serve.expire_ops(&mut self.raft, now);
        self.settle(now);
    }

    /// The next message to send, in the order the node produced them,
    /// skipping those that wait for durable state (see [`crate::durable`]).
    pub fn poll_transmit(&mut self) -> Option<Envelope> {
        self.raft.poll_transmit()
    }

    /// When the node next needs `handle_timeout`: the soonest of the
    /// replica's timers, the client operations' and the apply lag's;
    /// `None` before `init`.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if !self.raft.has_joined() {
            return None;
        }
        let serving = [
            self.serve.next_op_timer(),
            self.serve.next_apply_at(&self.raft),
        ];
        Some(
            serving
                .into_iter()
                .flatten()
                .fold(self.raft.next_timer(), Millis::min),
        )
    }

    /// Diagnostics for a human (bad peer input, step-downs); drained by the runtime.
    pub fn poll_warning(&mut self) -> Option<String> {
        self.raft.poll_warning()
    }

    /// What to make durable next, if anything changed: see
    /// [`crate::durable`] for the contract.
    pub fn poll_persist(&mut self) -> Option<PersistBatch> {
        self.raft.poll_persist()
    }

    /// The runtime made every batch up to `number` durable.
    pub fn handle_persisted(&mut self, now: Millis, number: u64) {
        if self.raft.persisted(now, number, &mut self.serve) {
            self.settle(now);
        }
    }

    /// The runtime could not write what it was asked to (`why`: a full
    /// disk, say) and will try again. Nothing waiting for it is sent
    /// meanwhile; a client request that times out is told `why`.
    pub fn handle_persist_failed(&mut self, why: &str) {
        self.raft.persist_failed(why);
    }

    // ------------------------------------------------------ read-only accessors

    pub fn id(&self) -> Option<&Id> {
        self.raft.id()
    }

    pub fn role(&self) -> RoleKind {
        self.raft.role()
    }

    pub fn term(&self) -> u64 {
        self.raft.term()
    }

    pub fn leader(&self) -> Option<&Id> {
        self.raft.leader()
    }

    pub fn commit_index(&self) -> u64 {
        self.raft.commit_index()
    }

    pub fn applied_index(&self) -> u64 {
        self.serve.kv().applied_index()
    }

    pub fn log(&self) -> &Log {
        self.raft.log()
    }

    pub fn kv(&self) -> &Kv {
        self.serve.kv()
    }

    /// Term, vote and log: all a restart needs.
    pub fn durable(&self) -> &Durable {
        self.raft.durable()
    }

    /// Every member's id, this node's included, once `init` named them.
    pub fn member_ids(&self) -> Option<&[Id]> {
        self.raft.member_ids()
    }

    pub fn config(&self) -> &Config {
        self.raft.config()
    }

    /// How often each named event happened at this node since it started.
    pub fn reached(&self) -> &Reached {
        self.raft.reached()
    }

    /// Whether this node is still catching up after losing state.
    pub fn is_recovering(&self) -> bool {
        self.raft.is_recovering()
    }

    /// Whether part of a snapshot has arrived here and the rest has not.
    pub fn is_receiving_snapshot(&self) -> bool {
        self.raft.is_receiving_snapshot()
    }

    /// How far the log is durable, as far as the runtime has reported.
    pub fn synced_index(&self) -> u64 {
        self.raft.synced_index()
    }

    /// Which kinds of reads wait here now (a simulator's abstract state).
    pub fn reads_waiting(&self) -> ReadsWaiting {
        self.serve.reads_waiting()
    }

    // ------------------------------------------------------------- internals

    /// Work that follows any input: the replica ends recovery once caught
    /// up; the serving layer applies what committed (serving what waited
    /// for it) and re-routes operations when the leader changed.
    fn settle(&mut self, now: Millis) {
        self.raft.finish_recovery_if_caught_up();
        self.serve.apply_committed(&mut self.raft, now);
        if self.raft.take_leader_changed() {
            self.serve.reroute_on_leader_change(&mut self.raft, now);
        }
        self.serve.admit_held(&mut self.raft, now);
        self.serve.prune_timers();
    }

    /// The replica, for tests that look inside it.
    #[cfg(test)]
    pub(crate) fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Starts an election at once (tests that stage a given election).
    #[cfg(test)]
    pub(crate) fn start_election(&mut self, now: Millis) {
        self.raft.force_election(now, &mut self.serve);
    }
}
