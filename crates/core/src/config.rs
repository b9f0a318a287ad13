//! Node configuration: timing bounds, the RNG seed, and (optionally) membership.

use crate::id::Id;

/// Cluster membership as `init` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub me: Id,
    pub members: Vec<Id>,
}

impl Cluster {
    /// Checks what `init` may get wrong: this node must be a member, ids unique.
    pub fn validate(&self) -> Result<(), String> {
        if !self.members.contains(&self.me) {
            return Err(format!("node_id {} is not in node_ids", self.me));
        }
        let mut sorted = self.members.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.members.len() {
            return Err("node_ids lists a node twice".into());
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Seeds the node's ChaCha generator (election timeouts); mixed with the node id.
    pub rng_seed: u64,
    /// This start of the node, drawn anew by the runtime at every start
    /// from a source that does not depend on the disk (the OS's randomness
    /// in `ryw-node`, the run's seed and the boot count in the simulator).
    /// It is the high half of every operation id the node gives out, so ids
    /// never repeat across restarts, nor after the disk is lost: a counter
    /// kept on the disk would start again from zero.
    pub incarnation: u32,
    pub election_timeout_ms_min: u64,
    pub election_timeout_ms_max: u64,
    pub heartbeat_interval_ms: u64,
    /// How long a node waits for its applied index to reach a `ryw_read`'s
    /// token before forwarding the read to the leader.
    pub ryw_wait_ms_max: u64,
    /// Overall deadline for answering any client request.
    pub request_timeout_ms: u64,
    /// How long a forwarded read may go unanswered before it is sent again.
    pub forward_retry_ms: u64,
    /// Most entries in one AppendEntries.
    pub append_entries_max: usize,
    /// Most AppendEntries carrying new entries that a leader keeps
    /// unacknowledged per follower. Entries proposed while the window is
    /// full wait for an acknowledgement and then share one message, so a
    /// busy leader sends fewer, larger messages; heartbeats and read rounds
    /// are not counted.
    pub append_in_flight_max: usize,
    /// How long a leader holds a client's new entry before sending it, so
    /// that writes arriving close together share one AppendEntries per
    /// follower (group commit; 0: sent at once). Entries waiting for a full
    /// window to open are sent when it opens, as before.
    pub append_batch_ms: u64,
    /// A leader appends a client's write or cas only while its log runs at
    /// most this many replication windows (`append_entries_max` x
    /// `append_in_flight_max` entries each) past its commit index; later
    /// ones wait at the leader in arrival order, and one whose deadline
    /// passes there is dropped without ever entering the log. This bounds
    /// the time an appended entry takes to commit to a few round trips, so
    /// a leader offered more than it can replicate does not fill its log
    /// with writes whose clients gave up (a metastable overload that
    /// outlived every fault in `ryw-sim explore`'s runs).
    pub backlog_windows_max: usize,
    /// How long after this node learns an entry is committed it applies it:
    /// a slow state machine (0: in the same step). Reads still wait for
    /// the applied index, so this slows them without weakening them.
    pub apply_delay_ms: u64,
    /// A snapshot is taken every this many applied entries (0: never), and
    /// the log compacted under it.
    pub snapshot_every: u64,
    /// Entries kept in the log before a snapshot's index, so that a member
    /// a little behind still gets entries rather than the whole snapshot.
    pub compaction_margin: u64,
    /// Most bytes of snapshot text in one `install_snapshot`.
    pub snapshot_chunk_bytes: usize,
    /// Membership when known up front (the simulator); otherwise `init` sets it.
    pub cluster: Option<Cluster>,
    /// Whether the runtime has a disk and keeps the persistence contract
    /// (`poll_persist`, `handle_persisted`; see [`crate::durable`]). Without
    /// one, every change counts as durable the moment it is made.
    pub wait_for_disk: bool,
    /// Bugs planted on purpose, for the simulator's self-test; all off
    /// unless a simulation turns one on.
    pub planted: PlantedBugs,
}

/// Bugs the simulator plants in the core to prove its checkers catch them
/// (see `docs/planted-bugs.md`). Most planted bugs wrap the unmodified core
/// in a shim; these three live inside a step, where no shim sees, so they
/// are switches here. No runtime turns one on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlantedBugs {
    /// Snapshots leave out the duplicate filter: a request sent again after
    /// a node restarted from, or installed, one applies a second time there.
    pub snapshot_forgets_dedup: bool,
    /// A member installs a snapshot even when it is no newer than what it
    /// committed, as if it were its whole state: log, commit index and
    /// state machine go back to it.
    pub install_older_snapshot: bool,
    /// Once snapshots began, every input compacts the log to the commit
    /// index: entries not yet applied, and entries no snapshot covers.
    pub compact_unapplied: bool,
    /// When a new leader first commits in its term, the lin-kv reads that
    /// waited for it are armed with the round already in flight, not the
    /// next one: acknowledgements sent before those reads arrived then
    /// confirm them.
    pub read_index_old_round: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            rng_seed: 0,
            incarnation: 0,
            election_timeout_ms_min: 150,
            election_timeout_ms_max: 300,
            heartbeat_interval_ms: 50,
            ryw_wait_ms_max: 100,
            request_timeout_ms: 1000,
            forward_retry_ms: 250,
            append_entries_max: 64,
            append_in_flight_max: 1,
            append_batch_ms: 0,
            backlog_windows_max: 8,
            apply_delay_ms: 0,
            snapshot_every: 10_000,
            compaction_margin: 1_000,
            snapshot_chunk_bytes: 64 * 1024,
            cluster: None,
            wait_for_disk: false,
            planted: PlantedBugs::default(),
        }
    }
}

impl Config {
    /// Rejects settings under which Raft cannot work (names the offending field).
    pub fn validate(&self) -> Result<(), String> {
        if self.election_timeout_ms_min == 0
            || self.election_timeout_ms_min > self.election_timeout_ms_max
        {
            return Err(format!(
                "election_timeout_ms_min ({}) must be positive and at most election_timeout_ms_max ({})",
                self.election_timeout_ms_min, self.election_timeout_ms_max
            ));
        }
        if self.heartbeat_interval_ms == 0
            || self.heartbeat_interval_ms >= self.election_timeout_ms_min
        {
            return Err(format!(
                "heartbeat_interval_ms ({}) must be positive and below election_timeout_ms_min ({})",
                self.heartbeat_interval_ms, self.election_timeout_ms_min
            ));
        }
        if self.request_timeout_ms == 0 || self.forward_retry_ms == 0 {
            return Err("request_timeout_ms and forward_retry_ms must be positive".into());
        }
        if self.append_entries_max == 0 || self.append_in_flight_max == 0 {
            return Err("append_entries_max and append_in_flight_max must be positive".into());
        }
        if self.snapshot_chunk_bytes < 4 {
            return Err(format!(
                "snapshot_chunk_bytes ({}) must be at least 4, the longest UTF-8 character",
                self.snapshot_chunk_bytes
            ));
        }
        if let Some(cluster) = &self.cluster {
            cluster.validate()?;
        }
        Ok(())
    }
}
