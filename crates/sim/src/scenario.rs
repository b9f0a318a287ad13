//! Scenario files: what a run simulates, in JSON a person can read.
//! Parsing is strict (unknown fields are errors) and every error names the
//! file and the field.

use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sim_engine::disk::DiskLatency;
use sim_engine::swarm;

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
    fn latency(&self) -> DiskLatency {
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
            apply_delay_ms: c.apply_delay_ms,
            apply_delay_ms_of: std::collections::BTreeMap::new(),
            clocks: std::collections::BTreeMap::new(),
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
}

impl Default for Expect {
    fn default() -> Expect {
        Expect {
            liveness: true,
            liveness_ms: 5_000,
            peer_msgs_per_op_max: None,
            entries_sent_per_op_max: None,
        }
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

    /// Checks every number against its documented bound (see [`LIMITS`])
    /// and every combination that could not run.
    pub fn validate(&self) -> Result<(), String> {
        for limit in LIMITS {
            if let Some(value) = (limit.get)(self) {
                if !(limit.min..=limit.max).contains(&value) {
                    return Err(format!(
                        "field '{}' must be within {}..={}, got {value}",
                        limit.field, limit.min, limit.max
                    ));
                }
            }
        }
        let n = &self.network;
        if n.delay_ms_min > n.delay_ms_max {
            return Err("field 'network.delay_ms_min' exceeds 'network.delay_ms_max'".into());
        }
        for (name, p) in [("loss", n.loss), ("duplicate", n.duplicate)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "field 'network.{name}' must be within 0..=1, got {p}"
                ));
            }
        }
        if !(n.delay_tail_ms_mean >= 0.0 && n.delay_tail_ms_mean.is_finite()) {
            return Err("field 'network.delay_tail_ms_mean' must be a non-negative number".into());
        }
        self.node_config(0, 0)
            .validate()
            .map_err(|e| format!("field 'node': {e}"))?;
        let named = self
            .node
            .apply_delay_ms_of
            .keys()
            .map(|n| ("apply_delay_ms_of", n));
        for (field, name) in named.chain(self.node.clocks.keys().map(|n| ("clocks", n))) {
            if self.node_index(name).is_none() {
                return Err(format!(
                    "field 'node.{field}': {name:?} is not one of n1..n{}",
                    self.nodes
                ));
            }
        }
        self.disk.latency().check("disk")?;
        for (name, latency) in &self.disk.of {
            if self.node_index(name).is_none() {
                return Err(format!(
                    "field 'disk.of': {name:?} is not one of n1..n{}",
                    self.nodes
                ));
            }
            latency.check(&format!("disk.of.{name}"))?;
        }
        let latencies = std::iter::once(("disk".to_owned(), self.disk.latency())).chain(
            self.disk
                .of
                .iter()
                .map(|(n, l)| (format!("disk.of.{n}"), *l)),
        );
        for (at, latency) in latencies {
            if latency.write_ms_max.max(latency.fsync_ms_max) > DELAY_MS_MAX {
                return Err(format!(
                    "field '{at}': write and fsync times must be at most {DELAY_MS_MAX} ms"
                ));
            }
        }
        for (name, clock) in &self.node.clocks {
            use sim_engine::clock::{DRIFT_PPM_MAX, DRIFT_PPM_MIN};
            if clock.offset_ms > TIME_MS_MAX {
                return Err(format!(
                    "field 'node.clocks.{name}.offset_ms' must be at most {TIME_MS_MAX}, got {}",
                    clock.offset_ms
                ));
            }
            if !(DRIFT_PPM_MIN..=DRIFT_PPM_MAX).contains(&clock.drift_ppm) {
                return Err(format!(
                    "field 'node.clocks.{name}.drift_ppm' must be within {DRIFT_PPM_MIN}..={DRIFT_PPM_MAX}, got {}",
                    clock.drift_ppm
                ));
            }
        }
        for (name, &ms) in &self.node.apply_delay_ms_of {
            if ms > DELAY_MS_MAX {
                return Err(format!(
                    "field 'node.apply_delay_ms_of.{name}' must be at most {DELAY_MS_MAX}, got {ms}"
                ));
            }
        }
        // A leader applies a write before it acknowledges it: one that
        // applies no sooner than the request times out acknowledges none.
        let timeout_ms = self.node.request_timeout_ms;
        let delays = std::iter::once(("node.apply_delay_ms".to_owned(), self.node.apply_delay_ms))
            .chain(
                self.node
                    .apply_delay_ms_of
                    .iter()
                    .map(|(name, &ms)| (format!("node.apply_delay_ms_of.{name}"), ms)),
            );
        for (field, ms) in delays {
            if ms >= timeout_ms {
                return Err(format!(
                    "field '{field}' ({ms}) is at or above 'node.request_timeout_ms' ({timeout_ms}): \
                     a node that leads with it could acknowledge no write in time"
                ));
            }
        }

        if n.delay_tail_ms_mean > DELAY_TAIL_MS_MEAN_MAX {
            return Err(format!(
                "field 'network.delay_tail_ms_mean' must be at most {DELAY_TAIL_MS_MEAN_MAX}, got {}",
                n.delay_tail_ms_mean
            ));
        }
        let w = &self.workload;
        let bounds = [
            ("peer_msgs_per_op_max", self.expect.peer_msgs_per_op_max),
            (
                "entries_sent_per_op_max",
                self.expect.entries_sent_per_op_max,
            ),
        ];
        for (name, bound) in bounds {
            if bound.is_some_and(|b| !(b.is_finite() && b > 0.0)) {
                return Err(format!("field 'expect.{name}' must be a positive number"));
            }
        }
        if n.delay_ms_max == 0 && w.think_ms_max == 0 {
            return Err(
                "field 'workload.think_ms_max' is 0 while every network delay is 0 \
                 ('network.delay_ms_max'): clients and nodes would answer each other forever \
                 without simulated time moving; make one of them positive"
                    .into(),
            );
        }
        sim_engine::faults::check_names(&self.faults, self.nodes)?;
        if w.mix.total() == 0 {
            return Err("field 'workload.mix' must give some operation a weight".into());
        }
        for (i, phase) in w.phases.iter().enumerate() {
            let here = format!("workload.phases[{i}]");
            if phase.mix.total() == 0 {
                return Err(format!(
                    "field '{here}.mix' must give some operation a weight"
                ));
            }
            if i > 0 && phase.from_ms <= w.phases[i - 1].from_ms {
                return Err(format!(
                    "field '{here}.from_ms' must come after the phase before it"
                ));
            }
        }
        for (i, fault) in self.faults.iter().enumerate() {
            let here = format!("faults[{i}]");
            if fault.until_ms < fault.at_ms {
                return Err(format!("field '{here}.until_ms' is before '{here}.at_ms'"));
            }
            if fault.after_ms > 0 && fault.when.is_none() {
                return Err(format!(
                    "field '{here}.after_ms' needs a trigger in '{here}.when'"
                ));
            }
            if fault.never_heals() && self.expect.liveness {
                return Err(format!(
                    "field '{here}.until_ms' is \"never\": a run that stays faulted cannot be \
                     held to recovering, so set 'expect.liveness' to false"
                ));
            }
            let until_ms = if fault.never_heals() {
                0
            } else {
                fault.last_until_ms()
            };
            let fields = [
                ("until_ms", until_ms),
                ("after_ms", fault.after_ms),
                ("every_ms", fault.every_ms),
            ];
            for (field, ms) in fields {
                if ms > TIME_MS_MAX {
                    return Err(format!(
                        "field '{here}.{field}' must be at most {TIME_MS_MAX}, got {ms}"
                    ));
                }
            }
            if let FaultKind::Lag { extra_ms, .. }
            | FaultKind::Link { extra_ms, .. }
            | FaultKind::ClientLink { extra_ms, .. }
            | FaultKind::SlowFsync { extra_ms, .. } = fault.kind
            {
                if extra_ms > DELAY_MS_MAX {
                    return Err(format!(
                        "field '{here}.extra_ms' must be at most {DELAY_MS_MAX}, got {extra_ms}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Swarm mode draws the faults and the network itself: fields it would
    /// silently replace are refused, and so are swarm ranges without it.
    fn check_swarm_fields(&self) -> Result<(), String> {
        if !self.swarm {
            if self.swarm_ranges != SwarmRanges::Classic {
                return Err(
                    "field 'swarm_ranges' needs \"swarm\": true (without it nothing is drawn)"
                        .into(),
                );
            }
            return Ok(());
        }
        let drawn = "with \"swarm\": true the seed draws it; leave it out, or set 'swarm' to false";
        if !self.faults.is_empty() {
            return Err(format!("field 'faults': {drawn}"));
        }
        if self.network != Network::default() {
            return Err(format!("field 'network': {drawn}"));
        }
        if self.workload.sticky {
            return Err(format!("field 'workload.sticky': {drawn}"));
        }
        // Drawn faults must heal before the liveness window: with no time
        // left before it, every one would shrink to nothing.
        if self.duration_ms <= self.expect.liveness_ms {
            return Err(format!(
                "field 'duration_ms' ({}) must be longer than 'expect.liveness_ms' ({}) with \
                 \"swarm\": true: drawn faults happen before the liveness window, and would have no time",
                self.duration_ms, self.expect.liveness_ms
            ));
        }
        Ok(())
    }

    /// The index of node `name` (`n1`..`nN` only).
    fn node_index(&self, name: &str) -> Option<usize> {
        match sim_engine::faults::parse_target(name, self.nodes) {
            Ok(sim_engine::faults::Target::Node(i)) => Some(i),
            _ => None,
        }
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
            apply_delay_ms: s
                .apply_delay_ms_of
                .get(&format!("n{}", index + 1))
                .copied()
                .unwrap_or(s.apply_delay_ms),
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

    /// Swarm mode: replaces network parameters and faults by ones drawn from
    /// `rng`, so different seeds explore different fault mixes.
    pub fn draw_swarm(&mut self, rng: &mut ChaCha8Rng) {
        match self.swarm_ranges {
            SwarmRanges::Classic => self.draw_classic(rng),
            SwarmRanges::Wide => self.draw_wide(rng),
            SwarmRanges::Disk => self.draw_disk(rng),
            SwarmRanges::LyingDisk => {
                self.draw_disk(rng);
                // Damage stays on one node: the lies below pick it.
                self.faults
                    .retain(|f| !matches!(f.kind, FaultKind::Corrupt { .. }));
                let count = rng.random_range(1..=4);
                let lies =
                    swarm::draw_lying_disk_faults(rng, self.nodes, self.fault_time_ms(), count);
                self.faults.extend(lies);
                self.faults.sort_by_key(|f| (f.at_ms, f.until_ms));
            }
        }
    }

    fn draw_disk(&mut self, rng: &mut ChaCha8Rng) {
        self.network.delay_ms_min = rng.random_range(0..=3);
        self.network.delay_ms_max = self.network.delay_ms_min + rng.random_range(1..=20);
        swarm::draw_lossy_links(&mut self.network, rng);
        self.workload.sticky = rng.random_bool(0.5);
        self.faults.clear();
        for _ in 0..rng.random_range(0..=3) {
            let fault = swarm::draw_fault(rng, self.nodes, self.fault_time_ms(), 100..=2_000, 0.3);
            self.faults.push(fault);
        }
        let count = rng.random_range(1..=6);
        let (disks, faults) = swarm::draw_disks(rng, self.nodes, self.fault_time_ms(), count);
        self.disk = Disks {
            of: (1..=self.nodes)
                .map(|k| format!("n{k}"))
                .zip(disks)
                .collect(),
            ..Disks::default()
        };
        self.faults.extend(faults);
        self.faults.sort_by_key(|f| (f.at_ms, f.until_ms));
    }

    fn draw_classic(&mut self, rng: &mut ChaCha8Rng) {
        let on = |rng: &mut ChaCha8Rng| rng.random_bool(0.5);
        self.network.delay_ms_min = rng.random_range(0..=3);
        self.network.delay_ms_max = self.network.delay_ms_min + rng.random_range(0..=20);
        swarm::draw_lossy_links(&mut self.network, rng);
        self.workload.sticky = on(rng);
        self.faults.clear();
        let count = rng.random_range(0..=6);
        for _ in 0..count {
            let fault = swarm::draw_fault(rng, self.nodes, self.fault_time_ms(), 100..=3_000, 0.3);
            self.faults.push(fault);
        }
        self.faults.sort_by_key(|f| (f.at_ms, f.until_ms));
    }

    fn draw_wide(&mut self, rng: &mut ChaCha8Rng) {
        let on = |rng: &mut ChaCha8Rng| rng.random_bool(0.5);
        self.nodes = [3, 5, 7][rng.random_range(0..3)];
        self.network.delay_ms_min = rng.random_range(0..=5);
        self.network.delay_ms_max = self.network.delay_ms_min + rng.random_range(0..=40);
        swarm::draw_lossy_links(&mut self.network, rng);
        let node = &mut self.node;
        node.election_timeout_ms_min = rng.random_range(100..=300);
        // Narrow ranges make candidates time out together and split votes.
        node.election_timeout_ms_max = node.election_timeout_ms_min
            + if on(rng) {
                rng.random_range(5..=30)
            } else {
                rng.random_range(50..=300)
            };
        node.heartbeat_interval_ms = rng.random_range(20..=node.election_timeout_ms_min / 2);
        // Small batches make lagging followers catch up over many messages,
        // so old-term entries can reach a majority apart from the new
        // leader's own.
        node.append_entries_max = if on(rng) { rng.random_range(1..=4) } else { 64 };
        // Narrow windows hold entries back until acknowledgements return.
        node.append_in_flight_max = rng.random_range(1..=4);
        let w = &mut self.workload;
        w.sessions = rng.random_range(2..=12);
        w.keys = rng.random_range(6..=16);
        w.think_ms_max = rng.random_range(0..=30);
        if self.network.delay_ms_max == 0 {
            // With no delay anywhere, clients and nodes would answer each
            // other forever without the clock moving.
            w.think_ms_max = w.think_ms_max.max(1);
        }
        w.sticky = on(rng);
        w.mix.write = rng.random_range(10..=70);
        w.mix.ryw_read = rng.random_range(10..=60);
        self.faults.clear();
        let count = rng.random_range(0..=10);
        for _ in 0..count {
            if rng.random_bool(0.1) {
                let crashes =
                    swarm::draw_majority_crash(rng, self.nodes, self.fault_time_ms(), 50..=3_000);
                self.faults.extend(crashes);
                continue;
            }
            let mut fault =
                swarm::draw_fault(rng, self.nodes, self.fault_time_ms(), 50..=3_000, 0.5);
            swarm::maybe_aim_at_next_leader(&mut fault, rng, 0.4);
            self.faults.push(fault);
        }
        self.faults.sort_by_key(|f| (f.at_ms, f.until_ms));
    }

    /// Faults heal in time for the liveness check to see the cluster recover.
    fn fault_time_ms(&self) -> u64 {
        self.duration_ms
            .saturating_sub(self.expect.liveness_ms)
            .max(1)
    }
}

fn is_zero_ms(ms: &u64) -> bool {
    *ms == 0
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Longest simulated time anything in a scenario may name: ten minutes.
pub const TIME_MS_MAX: u64 = 600_000;
/// Longest delay a link may add: one minute.
pub const DELAY_MS_MAX: u64 = 60_000;
/// Largest mean of the delay tail.
pub const DELAY_TAIL_MS_MEAN_MAX: f64 = 10_000.0;

/// A documented bound on one number of a scenario.
pub struct Limit {
    pub field: &'static str,
    pub min: u64,
    pub max: u64,
    get: fn(&Scenario) -> Option<u64>,
}

const fn limit(
    field: &'static str,
    min: u64,
    max: u64,
    get: fn(&Scenario) -> Option<u64>,
) -> Limit {
    Limit {
        field,
        min,
        max,
        get,
    }
}

/// Every bound a scenario must keep; docs/scenarios.md lists them.
/// They keep a run's memory and time bounded: the simulator holds every
/// operation of a run for the checkers, so sessions, keys and simulated
/// time are what it costs.
pub const LIMITS: [Limit; 24] = [
    limit("nodes", 1, 9, |s| Some(s.nodes as u64)),
    limit("duration_ms", 1, TIME_MS_MAX, |s| Some(s.duration_ms)),
    limit("network.delay_ms_max", 0, DELAY_MS_MAX, |s| {
        Some(s.network.delay_ms_max)
    }),
    limit("node.election_timeout_ms_max", 1, DELAY_MS_MAX, |s| {
        Some(s.node.election_timeout_ms_max)
    }),
    limit("node.heartbeat_interval_ms", 1, DELAY_MS_MAX, |s| {
        Some(s.node.heartbeat_interval_ms)
    }),
    limit("node.ryw_wait_ms_max", 0, DELAY_MS_MAX, |s| {
        Some(s.node.ryw_wait_ms_max)
    }),
    limit("node.request_timeout_ms", 1, TIME_MS_MAX, |s| {
        Some(s.node.request_timeout_ms)
    }),
    limit("node.apply_delay_ms", 0, DELAY_MS_MAX, |s| {
        Some(s.node.apply_delay_ms)
    }),
    limit("node.append_entries_max", 1, 10_000, |s| {
        Some(s.node.append_entries_max as u64)
    }),
    limit("node.append_in_flight_max", 1, 1_000, |s| {
        Some(s.node.append_in_flight_max as u64)
    }),
    limit("faults", 0, 256, |s| Some(s.faults.len() as u64)),
    limit("workload.phases", 0, 16, |s| {
        Some(s.workload.phases.len() as u64)
    }),
    limit("workload.phases[].from_ms", 0, TIME_MS_MAX, |s| {
        s.workload.phases.iter().map(|p| p.from_ms).max()
    }),
    limit("workload.sessions", 1, 64, |s| {
        Some(s.workload.sessions as u64)
    }),
    limit("workload.keys", 1, 1_000, |s| Some(s.workload.keys as u64)),
    limit("workload.think_ms_max", 0, DELAY_MS_MAX, |s| {
        Some(s.workload.think_ms_max)
    }),
    limit("workload.client_timeout_ms", 1, TIME_MS_MAX, |s| {
        Some(s.workload.client_timeout_ms)
    }),
    limit("workload.mix.write", 0, 1_000_000, |s| {
        Some(u64::from(s.workload.mix.write))
    }),
    limit("workload.mix.ryw_read", 0, 1_000_000, |s| {
        Some(u64::from(s.workload.mix.ryw_read))
    }),
    limit("workload.mix.ryw_read_leader", 0, 1_000_000, |s| {
        Some(u64::from(s.workload.mix.ryw_read_leader))
    }),
    limit("workload.mix.read", 0, 1_000_000, |s| {
        Some(u64::from(s.workload.mix.read))
    }),
    limit("workload.mix.cas", 0, 1_000_000, |s| {
        Some(u64::from(s.workload.mix.cas))
    }),
    limit("expect.liveness_ms", 1, TIME_MS_MAX, |s| {
        Some(s.expect.liveness_ms)
    }),
    limit("faults[].at_ms", 0, TIME_MS_MAX, |s| {
        s.faults.iter().map(|f| f.at_ms).max()
    }),
];

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

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn minimal_scenario_takes_defaults() {
        let s =
            Scenario::parse(r#"{"name": "m", "nodes": 3, "duration_ms": 1000}"#).expect("valid");
        assert_eq!(s.workload.sessions, 4);
        assert_eq!(s.node.ryw_wait_ms_max, 100);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"name": "m", "nodes": 0, "duration_ms": 1}"#, "'nodes'"),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "netwrk": {}}"#,
                "netwrk",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "network": {"delay_ms_min": 9, "delay_ms_max": 1}}"#,
                "network.delay_ms_min",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "faults": [{"at_ms": 5, "until_ms": 1, "kind": "ring"}]}"#,
                "faults[0].until_ms",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "faults": [{"at_ms": 1, "until_ms": 2, "kind": "pause", "node": "n9"}]}"#,
                "faults[0]",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "faults": [{"at_ms": 1, "until_ms": 2, "kind": "melt"}]}"#,
                "melt",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "node": {"heartbeat_interval_ms": 500}}"#,
                "heartbeat_interval_ms",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "workload": {"mix": {"write": 0, "ryw_read": 0, "ryw_read_leader": 0, "read": 0, "cas": 0}}}"#,
                "workload.mix",
            ),
        ];
        for (text, field) in cases {
            let err = Scenario::parse(text).expect_err(text);
            assert!(err.contains(field), "{err:?} should name {field}");
        }
    }

    #[test]
    fn a_mix_means_the_same_at_the_top_level_and_in_a_phase() {
        let text = r#"{"name": "m", "nodes": 3, "duration_ms": 1000,
            "workload": {"mix": {"write": 1}, "phases": [{"from_ms": 500, "mix": {"write": 1}}]}}"#;
        let s = Scenario::parse(text).expect("parses");
        let weights = |m: &Mix| [m.write, m.ryw_read, m.ryw_read_leader, m.read, m.cas];
        assert_eq!(weights(&s.workload.mix), [1, 0, 0, 0, 0], "writes only");
        assert_eq!(weights(&s.workload.mix), weights(&s.workload.phases[0].mix));
        let default =
            Scenario::parse(r#"{"name": "m", "nodes": 3, "duration_ms": 1000}"#).expect("parses");
        assert_eq!(
            weights(&default.workload.mix),
            weights(&Mix::default()),
            "left out"
        );
    }

    // Combinations that cannot do what they say: refused at load time,
    // naming the fields, instead of silently doing something else.
    #[test]
    fn combinations_that_would_be_silently_ignored_are_refused_naming_the_fields() {
        let base = r#""name": "m", "nodes": 3, "duration_ms": 1000"#;
        let cases = [
            (
                format!(r#"{{{base}, "node": {{"apply_delay_ms": 1000}}}}"#),
                "'node.apply_delay_ms' (1000) is at or above 'node.request_timeout_ms' (1000)",
            ),
            (
                format!(r#"{{{base}, "node": {{"apply_delay_ms_of": {{"n2": 1500}}}}}}"#),
                "'node.apply_delay_ms_of.n2' (1500)",
            ),
            (
                format!(
                    r#"{{{base}, "swarm": true, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "ring"}}]}}"#
                ),
                "field 'faults': with \"swarm\": true the seed draws it",
            ),
            (
                format!(r#"{{{base}, "swarm": true, "network": {{"loss": 0.5}}}}"#),
                "field 'network'",
            ),
            (
                format!(r#"{{{base}, "swarm": true, "workload": {{"sticky": true}}}}"#),
                "field 'workload.sticky'",
            ),
            (
                format!(r#"{{{base}, "swarm_ranges": "disk"}}"#),
                "field 'swarm_ranges' needs",
            ),
            (
                format!(r#"{{{base}, "swarm": true}}"#),
                "field 'duration_ms' (1000) must be longer than 'expect.liveness_ms' (5000)",
            ),
            (
                format!(
                    r#"{{{base}, "nodes": 5, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "split", "groups": [["n1", "n2"], ["n2", "n3"]]}}]}}"#
                ),
                r#""n2" is in 'groups[0]' and 'groups[1]'"#,
            ),
        ];
        for (text, said) in cases {
            let text = text.replace(
                r#""nodes": 3, "duration_ms": 1000, "nodes": 5"#,
                r#""nodes": 5, "duration_ms": 1000"#,
            );
            let err = Scenario::parse(&text).expect_err(&text);
            assert!(err.contains(said), "{err:?} should say {said}");
        }
        // The same fields without the conflict load.
        for text in [
            format!(r#"{{{base}, "node": {{"apply_delay_ms": 999}}}}"#),
            format!(
                r#"{{{base}, "swarm": true, "swarm_ranges": "disk", "expect": {{"liveness_ms": 500}}}}"#
            ),
        ] {
            Scenario::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn numbers_beyond_their_bounds_and_nonsense_are_refused() {
        let base = r#""name": "m", "nodes": 3"#;
        let cases = [
            (format!(r#"{{{base}, "duration_ms": 1e400}}"#), "field 'duration_ms'"),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "network": {{"loss": 1e400}}}}"#),
                "field 'network.loss'",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000000000000}}"#),
                "duration_ms",
            ),
            (format!(r#"{{{base}, "duration_ms": -5}}"#), "duration_ms"),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "workload": {{"sessions": 1000}}}}"#),
                "workload.sessions",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "expect": {{"liveness_ms": 0}}}}"#),
                "expect.liveness_ms",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "network": {{"delay_tail_ms_mean": 1e300}}}}"#
                ),
                "delay_tail_ms_mean",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "lag", "node": "n1", "extra_ms": 18446744073709551615}}]}}"#
                ),
                "extra_ms",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 18446744073709551615, "kind": "ring"}}]}}"#
                ),
                "until_ms",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "pause", "node": "n01"}}]}}"#
                ),
                "n01",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "pause", "node": "n+1"}}]}}"#
                ),
                "n+1",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "one_way", "from": ["n1"], "to": ["n1"]}}]}}"#
                ),
                "to itself",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "one_way", "from": [], "to": ["n1"]}}]}}"#
                ),
                "both",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "ring", "after_ms": 5}}]}}"#
                ),
                "after_ms",
            ),
            ("[]".to_owned(), "JSON object"),
            (
                r#"{"name": "m", "nodes": 2, "duration_ms": 1000, "faults": [{"at_ms": 1, "until_ms": 2, "kind": "split"}]}"#.to_owned(),
                "a split of 2 node(s)",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "ring"}}]}}"#),
                "a ring of 3 nodes cuts nothing",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": "never", "kind": "ring"}}]}}"#),
                "expect.liveness",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": "soon", "kind": "ring"}}]}}"#),
                "\"never\"",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "network": {{"delay_ms_min": 0, "delay_ms_max": 0}}, "workload": {{"think_ms_max": 0}}}}"#),
                "workload.think_ms_max",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "split", "minority_with": "n1", "groups": [["n2"]]}}]}}"#),
                "not both",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "pause", "node": "chief"}}]}}"#),
                "old_leader",
            ),
        ];
        for (text, named) in cases {
            let err = Scenario::parse(&text).expect_err(&text);
            assert!(err.contains(named), "{err:?} should name {named}");
        }
        let wrong_type = Scenario::parse(r#"{"name": "m", "nodes": 3, "duration_ms": "soon"}"#)
            .expect_err("a string is no duration");
        assert!(
            wrong_type.starts_with("field 'duration_ms'"),
            "{wrong_type}"
        );
    }

    #[test]
    fn new_fault_forms_parse() {
        let base = r#""name": "m", "nodes": 7, "duration_ms": 1000"#;
        let text = format!(
            r#"{{{base}, "expect": {{"liveness": false}}, "faults": [
                {{"at_ms": 1, "until_ms": "never", "kind": "split", "groups": [["n1", "n2"], ["n3", "n4"]]}},
                {{"at_ms": 1, "until_ms": 5, "kind": "lag", "node": "follower", "extra_ms": 50, "spare_clients": true}},
                {{"at_ms": 1, "until_ms": 5, "kind": "crash", "node": "majority"}}
            ]}}"#
        );
        let s = Scenario::parse(&text).expect("valid");
        assert!(s.faults[0].never_heals());
        assert_eq!(s.last_heal_ms(), 5, "a fault that never heals is no heal");
        assert_eq!(s.end_ms(), 1000, "no liveness: the run ends on time");
        // And it writes back as it was read.
        let again =
            Scenario::parse(&serde_json::to_string(&s).expect("serialises")).expect("valid");
        assert!(again.faults[0].never_heals());
    }

    #[test]
    fn swarm_draws_valid_scenarios() {
        let base =
            Scenario::parse(r#"{"name": "s", "nodes": 5, "duration_ms": 10000, "swarm": true}"#)
                .expect("valid");
        for seed in 0..200 {
            let mut s = base.clone();
            s.draw_swarm(&mut ChaCha8Rng::seed_from_u64(seed));
            s.validate()
                .unwrap_or_else(|e| panic!("seed {seed} drew an invalid scenario: {e}"));
            assert!(
                s.last_heal_ms() + s.expect.liveness_ms <= s.duration_ms,
                "faults heal in time for liveness"
            );
        }
    }
}
