//! Input to the replica: joining the cluster, its timers, peer messages,
//! and the runtime's word that a persist batch is durable. The top of the
//! replica's files: it calls into every other, and none calls it.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::members::Members;
use super::state::{Application, Raft, Role};
use crate::config::Cluster;
use crate::events::Event;
use crate::message::PeerMsg;
use crate::time::Millis;

impl Raft {
    /// Joins `cluster`: fixes the members, starts recovery if this node
    /// lost state, and arms the election timer (a cluster of one leads at
    /// once, so that piped requests work).
    pub(crate) fn join_cluster(
        &mut self,
        cluster: Cluster,
        now: Millis,
        app: &mut impl Application,
    ) {
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
        self.begin_recovery_if_needed(now, app);
        if self.members().majority() == 1 {
            self.start_election(now, app);
        } else {
            self.arm_election_timer(now);
        }
    }

    /// The replica's timers: a leader's heartbeat (or its step-down when
    /// no majority was heard from, check-quorum), anyone else's election
    /// timeout, and a recovering node's probes.
    pub(crate) fn tick(&mut self, now: Millis, app: &mut impl Application) {
        if let Role::Leader(leader) = &mut self.role {
            if leader.append_due.is_some_and(|due| now >= due) {
                leader.append_due = None;
                self.replicate(now);
            }
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
                    self.become_follower(now, app);
                }
            }
        } else if now >= self.election_deadline {
            if self.is_recovering() {
                self.recovery_timeout(now);
            } else {
                self.start_pre_vote(now, app);
            }
        }
        if self.next_probe_at().is_some_and(|at| now >= at) {
            self.probe_all_due(now);
        }
    }

    /// When the replica next needs [`Raft::tick`].
    pub(crate) fn next_timer(&self) -> Millis {
        self.next_probe_at()
            .into_iter()
            .fold(self.next_role_timer(), Millis::min)
    }

    /// Member `from` sent any message: a recovering node may ask it (or,
    /// the first time anyone speaks, everyone) for what it holds.
    pub(crate) fn heard_from(&mut self, now: Millis, from: usize) {
        self.probe_on_contact(now, from);
    }

    /// A message of the Raft protocol from member `from`.
    pub(crate) fn step(
        &mut self,
        now: Millis,
        from: usize,
        message: PeerMsg,
        app: &mut impl Application,
    ) {
        match message {
            PeerMsg::RequestVote(rv) => self.on_request_vote(now, from, rv, app),
            PeerMsg::RequestVoteOk(r) => self.on_request_vote_ok(now, from, r, app),
            PeerMsg::AppendEntries(ae) => self.on_append_entries(now, from, ae, app),
            PeerMsg::AppendEntriesOk(r) => self.on_append_entries_ok(now, from, r, app),
            PeerMsg::CommitWanted(w) => self.on_commit_wanted(from, w),
            PeerMsg::CommitNews(n) => self.on_commit_news(n),
            PeerMsg::Probe(p) => self.on_probe(from, p),
            PeerMsg::ProbeOk(p) => self.on_probe_ok(now, from, p, app),
            PeerMsg::InstallSnapshot(m) => self.on_install_snapshot(now, from, m, app),
            PeerMsg::InstallSnapshotOk(m) => self.on_install_snapshot_ok(now, from, m, app),
            // The serving layer's own messages: the node hands them there.
            PeerMsg::Forward(_) | PeerMsg::ForwardOk(_) => {}
        }
    }

    /// The runtime made every batch up to `number` durable: a leader may
    /// now count more of its own log. False when that was known already.
    pub(crate) fn persisted(
        &mut self,
        now: Millis,
        number: u64,
        app: &mut impl Application,
    ) -> bool {
        if !self.batches.durable_up_to(number) {
            return false;
        }
        debug_assert!(self.batches.synced_index() <= self.durable.log.last_index());
        self.advance_commit(now, app);
        true
    }

    /// Starts an election at once, as if the election timer fired and a
    /// pre-vote won (tests that stage a given election).
    #[cfg(test)]
    pub(crate) fn force_election(&mut self, now: Millis, app: &mut impl Application) {
        self.start_election(now, app);
    }
}

/// FNV-1a: a stable hash (unlike std's randomly keyed one) for seeding.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
