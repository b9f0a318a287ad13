//! A protocol that does nothing but tick, so tests can see exactly what the
//! engine's faults do to nodes: each node wakes every `TICK_MS`, pings the
//! next node, and leads from a scheduled time (in a term named after that
//! time, so later leaders lead newer terms). The harness records every
//! step of every node, every boot, and the trace.

use std::io::Write;
use std::sync::{Arc, Mutex};

use sim_engine::faults::Fault;
use sim_engine::network::{Network, NetworkParams};
use sim_engine::seeds::SeedStreams;
use sim_engine::{Address, Condition, End, Engine, Harness, Message, Process, Setup};

pub const TICK_MS: u64 = 10;

#[derive(Clone, Debug)]
pub struct Ping {
    from: usize,
    to: usize,
}

impl Message for Ping {
    fn src(&self) -> Address {
        Address::Node(self.from)
    }
    fn dest(&self) -> Address {
        Address::Node(self.to)
    }
    fn label(&self) -> &'static str {
        "ping"
    }
    fn write_json(&self, out: &mut String) {
        out.push_str(&format!(r#"{{"ping": [{}, {}]}}"#, self.from, self.to));
    }
}

pub struct Ticker {
    me: usize,
    nodes: usize,
    next_tick_ms: u64,
    now_ms: u64,
    outbox: Vec<Ping>,
    /// From when this node leads, if ever.
    leads_from_ms: Option<u64>,
    log_length: u64,
    tick_ms: u64,
    /// Whether its log grows by one entry per tick while it leads.
    grows: bool,
}

impl Process for Ticker {
    type Message = Ping;
    type Durable = ();

    fn handle_message(&mut self, now_ms: u64, _message: Ping) {
        self.now_ms = now_ms;
    }

    fn handle_timeout(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.next_tick_ms = now_ms + self.tick_ms;
        if self.grows && self.leading().is_some() {
            self.log_length += 1;
        }
        self.outbox.push(Ping {
            from: self.me,
            to: (self.me + 1) % self.nodes,
        });
    }

    fn poll_transmit(&mut self) -> Option<Ping> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<u64> {
        Some(self.next_tick_ms)
    }

    fn durable(&self) {}

    /// A node leads from its scheduled time, in a term named after it: a
    /// later leader leads a newer term.
    fn leading(&self) -> Option<u64> {
        self.leads_from_ms
            .filter(|&t| self.now_ms >= t)
            .map(|t| t + 1)
    }

    fn log_length(&self) -> u64 {
        self.log_length
    }
}

/// What happened to the nodes.
#[derive(Debug, Default)]
pub struct Seen {
    /// (time, node) of every step.
    pub steps: Vec<(u64, usize)>,
    /// (time, node, restart?) of every boot.
    pub boots: Vec<(u64, usize, bool)>,
    /// (time, every node's condition) at every step.
    pub conditions: Vec<(u64, Vec<Condition>)>,
}

impl Seen {
    /// Times node `node` took a step within `from_ms..to_ms`.
    pub fn steps_of(&self, node: usize, range: std::ops::Range<u64>) -> Vec<u64> {
        self.steps
            .iter()
            .filter(|&&(t, n)| n == node && range.contains(&t))
            .map(|&(t, _)| t)
            .collect()
    }

    pub fn restarts_of(&self, node: usize) -> Vec<u64> {
        self.boots
            .iter()
            .filter(|&&(_, n, restart)| n == node && restart)
            .map(|&(t, _, _)| t)
            .collect()
    }
}

pub struct ProbeHarness {
    nodes: usize,
    leads_from_ms: Vec<Option<u64>>,
    log_lengths: Vec<u64>,
    tick_ms: u64,
    grows: bool,
    seen: Seen,
}

impl Harness for ProbeHarness {
    type Node = Ticker;
    type Event = ();
    type Outcome = Seen;

    fn boot(&mut self, node: usize, durable: Option<()>, now_ms: u64) -> Result<Ticker, String> {
        self.seen.boots.push((now_ms, node, durable.is_some()));
        Ok(Ticker {
            me: node,
            nodes: self.nodes,
            next_tick_ms: now_ms,
            now_ms,
            outbox: Vec::new(),
            leads_from_ms: self.leads_from_ms[node],
            log_length: self.log_lengths[node],
            tick_ms: self.tick_ms,
            grows: self.grows,
        })
    }

    fn observe(&mut self, now_ms: u64, node: usize, _process: &Ticker, conditions: &[Condition]) {
        self.seen.steps.push((now_ms, node));
        self.seen.conditions.push((now_ms, conditions.to_vec()));
    }

    fn finish(self, _end: End<'_, Ticker>) -> Seen {
        self.seen
    }
}

/// A trace written to memory.
#[derive(Clone, Debug, Default)]
pub struct SharedTrace(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedTrace {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("trace lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedTrace {
    /// The trace's fault and heal notes, as `time detail` lines.
    pub fn fault_notes(&self) -> Vec<String> {
        let bytes = self.0.lock().expect("trace lock").clone();
        String::from_utf8(bytes)
            .expect("a trace is UTF-8")
            .lines()
            .filter_map(|line| {
                let json: serde_json::Value = serde_json::from_str(line).ok()?;
                let detail = json.get("detail")?.as_str()?;
                Some(format!("{} {detail}", json["t"]))
            })
            .collect()
    }
}

/// The scene a test sets: who leads from when, how long each log is.
pub struct Scene {
    pub nodes: usize,
    pub leads_from_ms: Vec<Option<u64>>,
    pub log_lengths: Vec<u64>,
    pub end_ms: u64,
    /// How often nodes tick (0: always due, which stops the clock).
    pub tick_ms: u64,
    /// Leaders append one entry per tick.
    pub grows: bool,
    pub clocks: Vec<sim_engine::clock::Clock>,
}

impl Scene {
    pub fn new(nodes: usize) -> Scene {
        Scene {
            nodes,
            leads_from_ms: vec![None; nodes],
            log_lengths: vec![0; nodes],
            end_ms: 1_000,
            tick_ms: TICK_MS,
            grows: false,
            clocks: Vec::new(),
        }
    }

    /// Runs the scene under `faults` with `seed`.
    pub fn run(&self, faults: Vec<Fault>, seed: u64) -> (Seen, SharedTrace) {
        let trace = SharedTrace::default();
        let mut seeds = SeedStreams::new(seed);
        let params = NetworkParams {
            delay_ms_min: 1,
            delay_ms_max: 1,
            ..NetworkParams::default()
        };
        let setup = Setup {
            nodes: self.nodes,
            network: Network::new(params, self.nodes, seeds.stream("network")),
            faults,
            fault_rng: seeds.stream("fault targets"),
            end_ms: self.end_ms,
            events_max: u64::MAX,
            clocks: self.clocks.clone(),
            disks: Vec::new(),
            disk_rng: seeds.stream("disk"),
            progress: None,
            trace: Some(Box::new(trace.clone())),
            hash_trace: false,
            record_clients: None,
        };
        let harness = ProbeHarness {
            nodes: self.nodes,
            leads_from_ms: self.leads_from_ms.clone(),
            log_lengths: self.log_lengths.clone(),
            tick_ms: self.tick_ms,
            grows: self.grows,
            seen: Seen::default(),
        };
        let finished = Engine::new(setup, harness).expect("valid faults").run();
        (finished.outcome, trace)
    }
}

/// A fault from its JSON form, as a scenario file writes it.
pub fn fault(json: &str) -> Fault {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}
