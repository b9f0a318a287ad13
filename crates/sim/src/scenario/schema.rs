//! The scenario format: what a file may say, with its defaults, read
//! strictly (unknown fields are errors, and every error names the file
//! and the field), and what it means to the engine and the core.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sim_engine::disk::DiskLatency;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub nodes: usize,
    pub duration_ms: u64,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub node: NodeSettings,
    /// The nodes' disks: how long a write and an fsync take.
    #[serde(default, skip_serializing_if = "Disks::is_instant")]
    pub disk: Disks,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub workload: Workload,
    #[serde(default)]
    pub expect: Expect,
    /// Let the seed draw faults and network parameters (TigerBeetle VOPR's swarm testing).
    #[serde(default)]
    pub swarm: bool,
    /// How widely the swarm draws (with `swarm`).
    #[serde(default, skip_serializing_if = "SwarmRanges::is_classic")]
    pub swarm_ranges: SwarmRanges,
}

/// The ranges a swarm run draws from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwarmRanges {
    /// Network parameters and up to six timed faults; the cluster, timing
    /// and workload come from the file. Kept as it was so that the seeds it
    /// once failed on still mean the same runs.
    #[default]
    Classic,
    /// Also the cluster size (3, 5 or 7), election timeouts (narrow ranges
    /// split votes), AppendEntries batch size, write share, sessions and
    /// think time (bursts), and up to ten faults, some triggered by an
    /// election and some crashing a majority at once: the states where
    /// Raft bugs bite (divergent logs across terms, leaders crashing with
    /// entries only a minority holds, repeated elections under load).
    Wide,
    /// The classic draws (fewer network faults), plus disk latency for
    /// every node (a slow disk on some seeds) and up to six disk faults:
    /// crashes that lose or tear unsynced writes, power cuts of every node,
    /// corruption of one node's disk, full disks, slow fsyncs.
    Disk,
    /// The disk draws, plus one to four faults of a disk that loses what
    /// it promised: wipes, lost synced tails and bit flips on one node at a
    /// time, and fsync errors on any node.
    LyingDisk,
}

/// Every node's disk latency (see [`DiskLatency`]), and in `of` other
/// latencies for some nodes: `{"n3": {"fsync_ms_min": 40, "fsync_ms_max": 90}}`.
/// All zero (the default): an fsync completes in the step that asked for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Disks {
    pub write_ms_min: u64,
    pub write_ms_max: u64,
    pub fsync_ms_min: u64,
    pub fsync_ms_max: u64,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub of: std::collections::BTreeMap<String, DiskLatency>,
}

impl Disks {
    pub(super) fn latency(&self) -> DiskLatency {
        DiskLatency {
            write_ms_min: self.write_ms_min,
            write_ms_max: self.write_ms_max,
            fsync_ms_min: self.fsync_ms_min,
            fsync_ms_max: self.fsync_ms_max,
        }
    }

    fn is_instant(&self) -> bool {
        *self == Disks::default()
    }
}

impl SwarmRanges {
    fn is_classic(&self) -> bool {
        *self == SwarmRanges::Classic
    }
}

/// Node-to-node links (the engine's network parameters).
pub use sim_engine::network::NetworkParams as Network;

/// The store's own timing knobs (see `ryw_core::Config`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSettings {
    pub election_timeout_ms_min: u64,
    pub election_timeout_ms_max: u64,
    pub heartbeat_interval_ms: u64,
    pub ryw_wait_ms_max: u64,
    pub request_timeout_ms: u64,
    /// Most entries in one AppendEntries: small values make a lagging
    /// follower catch up in many steps (and old-term entries commit apart
    /// from the new leader's own).
    pub append_entries_max: usize,
    /// Most unacknowledged AppendEntries with entries per follower (the
    /// replication window; 1 batches the most).
    pub append_in_flight_max: usize,
    /// How long a leader holds a new client entry so that writes arriving
    /// close together share one AppendEntries (group commit; 0: at once).
    #[serde(skip_serializing_if = "is_default_append_batch_ms")]
    pub append_batch_ms: u64,
    /// How long every node takes to apply an entry after it learns the
    /// entry is committed (a slow state machine).
    #[serde(skip_serializing_if = "is_zero_ms")]
    pub apply_delay_ms: u64,
    /// Per node, an apply delay in place of `apply_delay_ms`: `{"n3": 400}`.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub apply_delay_ms_of: std::collections::BTreeMap<String, u64>,
    /// Per node, a clock that is ahead and runs fast or slow:
    /// `{"n2": {"offset_ms": 5000, "drift_ppm": 200000}}`. The store uses no
    /// leases, so only its timers feel it.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub clocks: std::collections::BTreeMap<String, sim_engine::clock::Clock>,
    /// A snapshot every this many applied entries (0: never); small values
    /// make compaction, and snapshots sent to members behind, happen often.
    #[serde(skip_serializing_if = "is_default_snapshot_every")]
    pub snapshot_every: u64,
    /// Entries kept in the log before a snapshot's index.
    #[serde(skip_serializing_if = "is_default_compaction_margin")]
    pub compaction_margin: u64,
    /// Most bytes of snapshot text in one `install_snapshot`.
    #[serde(skip_serializing_if = "is_default_snapshot_chunk_bytes")]
    pub snapshot_chunk_bytes: usize,
}

/// Scenarios snapshot far more often than a real node does (every 10,000
/// entries), so that compaction, and snapshots sent to members behind,
/// happen in runs of a few seconds.
pub const SIM_SNAPSHOT_EVERY: u64 = 200;
pub const SIM_COMPACTION_MARGIN: u64 = 20;
pub const SIM_SNAPSHOT_CHUNK_BYTES: usize = 512;

fn is_default_append_batch_ms(ms: &u64) -> bool {
    *ms == ryw_core::Config::default().append_batch_ms
}

fn is_default_snapshot_every(n: &u64) -> bool {
    *n == SIM_SNAPSHOT_EVERY
}

fn is_default_compaction_margin(n: &u64) -> bool {
    *n == SIM_COMPACTION_MARGIN
}

fn is_default_snapshot_chunk_bytes(n: &usize) -> bool {
    *n == SIM_SNAPSHOT_CHUNK_BYTES
}

impl Default for NodeSettings {
    fn default() -> NodeSettings {
        let c = ryw_core::Config::default();
        NodeSettings {
            election_timeout_ms_min: c.election_timeout_ms_min,
            election_timeout_ms_max: c.election_timeout_ms_max,
            heartbeat_interval_ms: c.heartbeat_interval_ms,
            ryw_wait_ms_max: c.ryw_wait_ms_max,
            request_timeout_ms: c.request_timeout_ms,
            append_entries_max: c.append_entries_max,
            append_in_flight_max: c.append_in_flight_max,
            append_batch_ms: c.append_batch_ms,
            apply_delay_ms: c.apply_delay_ms,
            apply_delay_ms_of: std::collections::BTreeMap::new(),
            clocks: std::collections::BTreeMap::new(),
            snapshot_every: SIM_SNAPSHOT_EVERY,
            compaction_margin: SIM_COMPACTION_MARGIN,
            snapshot_chunk_bytes: SIM_SNAPSHOT_CHUNK_BYTES,
        }
    }
}

pub use sim_engine::faults::{Fault, FaultKind, Trigger};

/// The client workload: sessions with one request outstanding each.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    pub sessions: usize,
    pub keys: usize,
    /// Pause between a reply and a session's next request.
    pub think_ms_max: u64,
    /// A session gives up on a request after this long (a write is then indeterminate).
    pub client_timeout_ms: u64,
    /// Relative weights of the operation kinds. When given, weights not
    /// given are 0, as in a phase: `{"write": 1}` is writes only. Left out,
    /// the default mix holds.
    #[serde(deserialize_with = "Mix::zero_based")]
    pub mix: Mix,
    /// Later mixes, each from its time on (a burst of writes, then reads
    /// only, say). Before the first, `mix` holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// Sessions stick to one node instead of picking one at random per request.
    pub sticky: bool,
    /// Sessions raise their token to every applied index they read at.
    pub monotonic: bool,
}

impl Default for Workload {
    fn default() -> Workload {
        Workload {
            sessions: 4,
            keys: 3,
            think_ms_max: 20,
            client_timeout_ms: 2_000,
            mix: Mix::default(),
            phases: Vec::new(),
            sticky: false,
            monotonic: true,
        }
    }
}

/// A mix of operations from a moment on.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub from_ms: u64,
    /// Weights not given are 0, as in `workload.mix`: `{"ryw_read": 1}` is
    /// reads only.
    #[serde(deserialize_with = "Mix::zero_based")]
    pub mix: Mix,
}

impl Workload {
    /// The mix in effect at `at_ms`.
    pub fn mix_at(&self, at_ms: u64) -> &Mix {
        self.phases
            .iter()
            .rev()
            .find(|p| p.from_ms <= at_ms)
            .map_or(&self.mix, |p| &p.mix)
    }

    /// Every mix in effect at some moment from `at_ms` on.
    pub fn mixes_from(&self, at_ms: u64) -> impl Iterator<Item = &Mix> {
        let later = self.phases.iter().filter(move |p| p.from_ms > at_ms);
        std::iter::once(self.mix_at(at_ms)).chain(later.map(|p| &p.mix))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mix {
    pub write: u32,
    pub ryw_read: u32,
    pub ryw_read_leader: u32,
    pub read: u32,
    pub cas: u32,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            write: 30,
            ryw_read: 50,
            ryw_read_leader: 5,
            read: 10,
            cas: 5,
        }
    }
}

impl Mix {
    /// The sum of the weights.
    pub fn total(&self) -> u64 {
        [
            self.write,
            self.ryw_read,
            self.ryw_read_leader,
            self.read,
            self.cas,
        ]
        .into_iter()
        .map(u64::from)
        .sum()
    }

    /// Reads a mix whose missing weights are 0.
    fn zero_based<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Mix, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Weights {
            #[serde(default)]
            write: u32,
            #[serde(default)]
            ryw_read: u32,
            #[serde(default)]
            ryw_read_leader: u32,
            #[serde(default)]
            read: u32,
            #[serde(default)]
            cas: u32,
        }
        let w = Weights::deserialize(deserializer)?;
        Ok(Mix {
            write: w.write,
            ryw_read: w.ryw_read,
            ryw_read_leader: w.ryw_read_leader,
            read: w.read,
            cas: w.cas,
        })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    /// Whether the run is held to recovering after its faults heal. Off
    /// only for scenarios with faults that never heal.
    #[serde(skip_serializing_if = "is_true")]
    pub liveness: bool,
    /// After the last fault heals, a write and a ryw_read must complete within this.
    pub liveness_ms: u64,
    /// At most this many node-to-node messages per client operation (unbounded if absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_msgs_per_op_max: Option<f64>,
    /// At most this many log entries sent in AppendEntries per client operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries_sent_per_op_max: Option<f64>,
    /// Named events (`ryw_core::Event`) this scenario exists to reach: a
    /// sweep fails, naming the event, when none of its runs reach one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reach: Vec<String>,
}

impl Default for Expect {
    fn default() -> Expect {
        Expect {
            liveness: true,
            liveness_ms: 5_000,
            peer_msgs_per_op_max: None,
            entries_sent_per_op_max: None,
            reach: Vec::new(),
        }
    }
}

impl Expect {
    /// The events of `reach` (names checked by validation).
    pub fn reach_events(&self) -> Vec<ryw_core::Event> {
        self.reach
            .iter()
            .filter_map(|name| ryw_core::Event::parse(name))
            .collect()
    }
}

impl Scenario {
    /// Reads and checks a scenario file; errors name the file and the field.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Scenario::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Scenario, String> {
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(value) => value,
            // A number no JSON value can hold (1e400) fails here already:
            // read the file as a scenario to learn which field it is in.
            Err(e) => return Err(Scenario::read_fields(text).err().unwrap_or(e.to_string())),
        };
        if !value.is_object() {
            return Err(format!(
                "a scenario is a JSON object with at least 'name', 'nodes' and 'duration_ms', got {}",
                json_kind(&value)
            ));
        }
        let scenario = Scenario::read_fields(text)?;
        scenario.validate()?;
        // A file's fields that swarm mode would replace (the drawn ones
        // are validated above like any other).
        scenario.check_swarm_fields()?;
        sim_engine::faults::check(&scenario.faults, scenario.nodes)?;
        Ok(scenario)
    }

    /// The scenario's fields, read from the text (not a parsed tree) so that
    /// an error keeps its line and column, and its path names the field.
    fn read_fields(text: &str) -> Result<Scenario, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                inner.to_string()
            } else {
                format!("field '{path}': {inner}")
            }
        })
    }

    /// Every node's disk latency, in node order.
    pub fn disks(&self) -> Vec<DiskLatency> {
        (1..=self.nodes)
            .map(|k| {
                let name = format!("n{k}");
                self.disk
                    .of
                    .get(&name)
                    .copied()
                    .unwrap_or(self.disk.latency())
            })
            .collect()
    }

    /// Every node's clock, in node order.
    pub fn clocks(&self) -> Vec<sim_engine::clock::Clock> {
        (1..=self.nodes)
            .map(|k| {
                let name = format!("n{k}");
                self.node.clocks.get(&name).copied().unwrap_or_default()
            })
            .collect()
    }

    /// The core's config for node `index`.
    pub fn node_config(&self, index: usize, rng_seed: u64) -> ryw_core::Config {
        let s = &self.node;
        let members: Vec<ryw_core::Id> = (0..self.nodes)
            .map(|i| ryw_core::Id::Node(i as u32 + 1))
            .collect();
        ryw_core::Config {
            rng_seed,
            election_timeout_ms_min: s.election_timeout_ms_min,
            election_timeout_ms_max: s.election_timeout_ms_max,
            heartbeat_interval_ms: s.heartbeat_interval_ms,
            ryw_wait_ms_max: s.ryw_wait_ms_max,
            request_timeout_ms: s.request_timeout_ms,
            append_entries_max: s.append_entries_max,
            append_in_flight_max: s.append_in_flight_max,
            append_batch_ms: s.append_batch_ms,
            apply_delay_ms: s
                .apply_delay_ms_of
                .get(&format!("n{}", index + 1))
                .copied()
                .unwrap_or(s.apply_delay_ms),
            snapshot_every: s.snapshot_every,
            compaction_margin: s.compaction_margin,
            snapshot_chunk_bytes: s.snapshot_chunk_bytes,
            cluster: Some(ryw_core::Cluster {
                me: members.get(index).cloned().unwrap_or(ryw_core::Id::Node(1)),
                members,
            }),
            ..ryw_core::Config::default()
        }
    }

    /// When the run ends: at `duration_ms`, or later if liveness needs
    /// time after the last heal.
    pub fn end_ms(&self) -> u64 {
        if !self.expect.liveness {
            return self.duration_ms;
        }
        let liveness_until_ms = self.last_heal_ms().saturating_add(self.expect.liveness_ms);
        self.duration_ms.max(liveness_until_ms)
    }

    /// When the last fault that heals heals (0 without faults).
    pub fn last_heal_ms(&self) -> u64 {
        self.faults
            .iter()
            .filter(|f| !f.never_heals())
            .map(|f| f.last_until_ms())
            .max()
            .unwrap_or(0)
    }
}

fn is_zero_ms(ms: &u64) -> bool {
    *ms == 0
}

fn is_true(b: &bool) -> bool {
    *b
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
