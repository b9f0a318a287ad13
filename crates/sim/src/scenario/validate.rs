//! Validation: every number against its documented bound ([`LIMITS`]),
//! and every combination that could not do what it says (explicit faults
//! under swarm mode, a run shorter than its liveness window, an apply
//! delay that outlasts the request timeout, overlapping groups).

use super::schema::{FaultKind, Network, Scenario, SwarmRanges};

impl Scenario {
    /// Checks every number against its documented bound (see [`LIMITS`])
    /// and every combination that could not run; the error names the
    /// first field found wrong.
    pub fn validate(&self) -> Result<(), String> {
        self.check_limits()?;
        self.check_network()?;
        self.check_node()?;
        self.check_disks()?;
        self.check_node_timing()?;
        self.check_expect()?;
        self.check_workload()?;
        sim_engine::faults::check_names(&self.faults, self.nodes)?;
        self.check_mixes()?;
        self.check_faults()
    }

    /// Every bound of [`LIMITS`].
    fn check_limits(&self) -> Result<(), String> {
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
        Ok(())
    }

    /// Delays, probabilities and the delay tail.
    fn check_network(&self) -> Result<(), String> {
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
        if n.delay_tail_ms_mean > DELAY_TAIL_MS_MEAN_MAX {
            return Err(format!(
                "field 'network.delay_tail_ms_mean' must be at most {DELAY_TAIL_MS_MEAN_MAX}, got {}",
                n.delay_tail_ms_mean
            ));
        }
        Ok(())
    }

    /// The core's own checks of its settings, and the node names settings use.
    fn check_node(&self) -> Result<(), String> {
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
        Ok(())
    }

    /// Disk latencies, and the nodes they name.
    fn check_disks(&self) -> Result<(), String> {
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
        Ok(())
    }

    /// Clocks and apply delays: within bounds, and no apply delay that outlasts the request timeout.
    fn check_node_timing(&self) -> Result<(), String> {
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
        Ok(())
    }

    /// The efficiency bounds a run is held to.
    fn check_expect(&self) -> Result<(), String> {
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
        for (i, name) in self.expect.reach.iter().enumerate() {
            if ryw_core::Event::parse(name).is_none() {
                let known: Vec<&str> = ryw_core::Event::ALL.iter().map(|e| e.name()).collect();
                return Err(format!(
                    "field 'expect.reach[{i}]': no event is named {name:?}; known: {}",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// A workload that lets simulated time move.
    fn check_workload(&self) -> Result<(), String> {
        let (n, w) = (&self.network, &self.workload);
        if n.delay_ms_max == 0 && w.think_ms_max == 0 {
            return Err(
                "field 'workload.think_ms_max' is 0 while every network delay is 0 \
                 ('network.delay_ms_max'): clients and nodes would answer each other forever \
                 without simulated time moving; make one of them positive"
                    .into(),
            );
        }
        Ok(())
    }

    /// Mixes that weigh some operation, and phases in order.
    fn check_mixes(&self) -> Result<(), String> {
        let w = &self.workload;
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
        Ok(())
    }

    /// Each fault's times, trigger and extra delay.
    fn check_faults(&self) -> Result<(), String> {
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
    pub(super) fn check_swarm_fields(&self) -> Result<(), String> {
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
pub const LIMITS: [Limit; 25] = [
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
    limit("node.append_batch_ms", 0, DELAY_MS_MAX, |s| {
        Some(s.node.append_batch_ms)
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
