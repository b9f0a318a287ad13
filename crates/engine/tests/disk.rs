//! The engine's side of the simulated disk, seen from a protocol of its own:
//! a journal that appends one byte every tick, asks for an fsync, and
//! counts a byte as durable only when the engine says the fsync is done.
//! The engine must apply the disk's latency, keep fsyncs in order, lose
//! what was not synced at a crash, and reach a crashed node's disk.

use std::sync::{Arc, Mutex};

use sim_engine::disk::{DiskLatency, SimDisk, Unsynced};
use sim_engine::faults::{Fault, FaultKind};
use sim_engine::network::{Network, NetworkParams};
use sim_engine::seeds::SeedStreams;
use sim_engine::{Address, End, Engine, Harness, Message, Process, Setup};

const TICK_MS: u64 = 10;
const FILE: &str = "journal";

#[derive(Clone, Debug)]
struct Nothing;

impl Message for Nothing {
    fn src(&self) -> Address {
        Address::Elsewhere
    }
    fn dest(&self) -> Address {
        Address::Elsewhere
    }
    fn label(&self) -> &'static str {
        "nothing"
    }
    fn write_json(&self, out: &mut String) {
        out.push_str("null");
    }
}

struct Journal {
    disk: SimDisk,
    next_tick_ms: u64,
    /// fsyncs asked for: (id, bytes written when asked, asked at).
    asked: Vec<(u64, usize, u64)>,
    seen: Arc<Mutex<Seen>>,
}

#[derive(Default)]
struct Seen {
    /// Every completed fsync: (asked at, done at, bytes it covered).
    synced: Vec<(u64, u64, usize)>,
    /// Journal length at each boot from a disk.
    recovered: Vec<usize>,
}

impl Process for Journal {
    type Message = Nothing;
    type Durable = SimDisk;

    fn handle_message(&mut self, _now_ms: u64, _message: Nothing) {}

    fn handle_timeout(&mut self, now_ms: u64) {
        self.disk.append(FILE, b"x").expect("room on the disk");
        let id = self.disk.request_sync();
        self.asked.push((id, self.disk.len(FILE), now_ms));
        self.next_tick_ms = now_ms + TICK_MS;
    }

    fn poll_transmit(&mut self) -> Option<Nothing> {
        None
    }

    fn poll_timeout(&self) -> Option<u64> {
        Some(self.next_tick_ms)
    }

    fn durable(&self) -> SimDisk {
        self.disk.clone()
    }

    fn disk_mut(&mut self) -> Option<&mut SimDisk> {
        Some(&mut self.disk)
    }

    fn disk_of(disk: &mut SimDisk) -> Option<&mut SimDisk> {
        Some(disk)
    }

    fn handle_synced(&mut self, now_ms: u64, sync: u64) {
        let (k, &(_, bytes, asked_ms)) = self
            .asked
            .iter()
            .enumerate()
            .find(|(_, &(id, _, _))| id == sync)
            .expect("only fsyncs it asked for complete");
        self.asked.drain(..=k);
        let mut seen = self.seen.lock().expect("lock");
        seen.synced.push((asked_ms, now_ms, bytes));
    }
}

struct JournalHarness {
    seen: Arc<Mutex<Seen>>,
}

impl Harness for JournalHarness {
    type Node = Journal;
    type Event = ();
    type Outcome = ();

    fn boot(
        &mut self,
        _node: usize,
        disk: Option<SimDisk>,
        now_ms: u64,
    ) -> Result<Journal, String> {
        if let Some(disk) = &disk {
            let mut seen = self.seen.lock().expect("lock");
            seen.recovered.push(disk.len(FILE));
        }
        Ok(Journal {
            disk: disk.unwrap_or_default(),
            next_tick_ms: now_ms + TICK_MS,
            asked: Vec::new(),
            seen: self.seen.clone(),
        })
    }

    fn finish(self, _end: End<'_, Journal>) {}
}

/// Runs one journal node; returns what it saw and the trace.
fn run(latency: DiskLatency, faults: Vec<Fault>, end_ms: u64) -> (Seen, String) {
    let mut seeds = SeedStreams::new(7);
    let trace = Arc::new(Mutex::new(Vec::new()));
    let setup = Setup {
        nodes: 1,
        network: Network::new(NetworkParams::default(), 1, seeds.stream("network")),
        faults,
        fault_rng: seeds.stream("fault targets"),
        end_ms,
        events_max: u64::MAX,
        clocks: Vec::new(),
        disks: vec![latency],
        disk_rng: seeds.stream("disk"),
        progress: None,
        trace: Some(Box::new(SharedWriter(trace.clone()))),
        hash_trace: false,
        record_clients: None,
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let harness = JournalHarness { seen: seen.clone() };
    Engine::new(setup, harness).expect("valid").run();
    let seen = std::mem::take(&mut *seen.lock().expect("lock"));
    let text = String::from_utf8(trace.lock().expect("lock").clone()).expect("utf-8");
    (seen, text)
}

fn fsync_ms(min: u64, max: u64) -> DiskLatency {
    DiskLatency {
        fsync_ms_min: min,
        fsync_ms_max: max,
        ..DiskLatency::default()
    }
}

#[test]
fn an_fsync_completes_after_the_disk_latency_and_in_order() {
    let (seen, _) = run(fsync_ms(3, 25), Vec::new(), 1_000);
    assert!(seen.synced.len() >= 90);
    for &(asked_ms, done_ms, _) in &seen.synced {
        assert!(done_ms >= asked_ms + 3, "asked {asked_ms}, done {done_ms}");
    }
    assert!(
        seen.synced
            .windows(2)
            .all(|w| w[0].1 <= w[1].1 && w[0].2 < w[1].2),
        "fsyncs complete in the order they were asked for"
    );
    let (instant, _) = run(DiskLatency::default(), Vec::new(), 1_000);
    assert!(
        instant.synced.iter().all(|&(asked, done, _)| asked == done),
        "a disk without latency syncs within the step"
    );
}

#[test]
fn a_slow_fsync_fault_adds_its_time_while_it_lasts() {
    let slow = Fault::timed(
        200,
        400,
        FaultKind::SlowFsync {
            node: "n1".into(),
            extra_ms: 50,
        },
    );
    let (seen, _) = run(fsync_ms(1, 1), vec![slow], 1_000);
    for &(asked_ms, done_ms, _) in &seen.synced {
        let took_ms = done_ms - asked_ms;
        if (200..400).contains(&asked_ms) {
            assert!(took_ms >= 51, "asked at {asked_ms} took {took_ms} ms");
        } else if asked_ms >= 450 {
            assert_eq!(took_ms, 1, "asked at {asked_ms}");
        }
    }
}

#[test]
fn a_crash_keeps_what_was_synced_and_loses_what_was_not() {
    // fsyncs take 35 ms and a byte is written every 10 ms, so at any
    // moment three or four bytes are unsynced.
    let crash = Fault::timed(
        505,
        600,
        FaultKind::Crash {
            node: "n1".into(),
            unsynced: Unsynced::Lost,
        },
    );
    let (seen, _) = run(fsync_ms(35, 35), vec![crash], 1_000);
    let synced_before_crash = seen
        .synced
        .iter()
        .filter(|&&(_, done_ms, _)| done_ms <= 505)
        .map(|&(_, _, bytes)| bytes)
        .max()
        .expect("some fsyncs completed");
    assert_eq!(
        seen.recovered,
        vec![synced_before_crash],
        "the restart finds exactly what was synced"
    );
    assert!(
        seen.synced
            .iter()
            .all(|&(asked, done, _)| !(asked < 505 && done > 505)),
        "an fsync in flight at the crash never completes"
    );
}

#[test]
fn corruption_reaches_the_disk_of_a_crashed_node() {
    let crash = Fault::timed(
        300,
        500,
        FaultKind::Crash {
            node: "n1".into(),
            unsynced: Unsynced::Prefix,
        },
    );
    let corrupt = Fault::timed(
        400,
        401,
        FaultKind::Corrupt {
            file: None,
            node: "n1".into(),
            bits: 8,
        },
    );
    let (seen, trace) = run(DiskLatency::default(), vec![crash, corrupt], 600);
    assert_eq!(
        trace.matches("flipped a bit of journal").count(),
        8,
        "every bit lands on the crashed node's disk:\n{trace}"
    );
    assert_eq!(seen.recovered.len(), 1, "and the node restarts from it");
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
