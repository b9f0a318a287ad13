//! Three real `ryw-node` processes behind a Maelstrom-style router that
//! delays node-to-node messages, isolates a node, and lags another's links.
//! Sessions check read-your-writes on every `ryw_read` throughout.
//!
//! This test runs on the wall clock (real processes); it asserts behaviour,
//! never timing.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use ryw_tests::workspace_binary;

const NODES: usize = 3;
const LINK_DELAY: Duration = Duration::from_millis(3);

struct Router {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    lines: Receiver<String>,
    /// Node-to-node messages in flight: (deliver at, seq, dest node, line).
    in_flight: BinaryHeap<Reverse<(Instant, u64, usize, String)>>,
    seq: u64,
    isolated: Option<usize>,
    lagged: Option<(usize, Duration)>,
    replies: BTreeMap<u64, Value>,
    next_msg_id: u64,
}

fn node_index(id: &str) -> Option<usize> {
    id.strip_prefix('n')?.parse::<usize>().ok()?.checked_sub(1)
}

impl Router {
    fn start() -> Router {
        let (tx, lines) = mpsc::channel();
        let mut children = Vec::new();
        let mut stdins = Vec::new();
        for i in 0..NODES {
            let mut child = Command::new(workspace_binary("ryw-node"))
                .env("RYW_SEED", (i + 7).to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("ryw-node starts");
            stdins.push(child.stdin.take().expect("stdin"));
            let stdout = child.stdout.take().expect("stdout");
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
            children.push(child);
        }
        let mut router = Router {
            children,
            stdins,
            lines,
            in_flight: BinaryHeap::new(),
            seq: 0,
            isolated: None,
            lagged: None,
            replies: BTreeMap::new(),
            next_msg_id: 1,
        };
        let ids: Vec<String> = (1..=NODES).map(|i| format!("n{i}")).collect();
        for (i, id) in ids.iter().enumerate() {
            let body = json!({"type": "init", "node_id": id, "node_ids": ids});
            let reply = router.call(i, 0, body).expect("init_ok");
            assert_eq!(reply["type"], "init_ok");
        }
        router
    }

    fn send_line(&mut self, node: usize, line: &str) {
        let stdin = &mut self.stdins[node];
        stdin.write_all(line.as_bytes()).expect("node stdin");
        stdin.write_all(b"\n").expect("node stdin");
    }

    /// Routes output for a while: node-to-node lines through the faulty
    /// network, client replies into `replies`.
    fn pump(&mut self, until: Instant) {
        loop {
            let now = Instant::now();
            while let Some(Reverse((at, _, _, _))) = self.in_flight.peek() {
                if *at > now {
                    break;
                }
                let Reverse((_, _, dest, line)) = self.in_flight.pop().expect("peeked");
                self.send_line(dest, &line);
            }
            if now >= until {
                return;
            }
            let next_delivery = self.in_flight.peek().map(|Reverse((at, ..))| *at);
            let wait = next_delivery
                .unwrap_or(until)
                .min(until)
                .saturating_duration_since(now);
            let Ok(line) = self.lines.recv_timeout(wait.max(Duration::from_millis(1))) else {
                continue;
            };
            let envelope: Value = serde_json::from_str(&line).expect("nodes print JSON");
            let (src, dest) = (envelope["src"].as_str(), envelope["dest"].as_str());
            match (src.and_then(node_index), dest.and_then(node_index)) {
                (Some(from), Some(to)) => {
                    if self.isolated.is_some_and(|i| i == from || i == to) {
                        continue;
                    }
                    let lag = match self.lagged {
                        Some((i, lag)) if i == from || i == to => lag,
                        _ => Duration::ZERO,
                    };
                    self.seq += 1;
                    let at = Instant::now() + LINK_DELAY + lag;
                    self.in_flight.push(Reverse((at, self.seq, to, line)));
                }
                _ => {
                    let body = &envelope["body"];
                    if let Some(id) = body["in_reply_to"].as_u64() {
                        self.replies.insert(id, body.clone());
                    }
                }
            }
        }
    }

    /// Sends a client request and waits (at most 3 s) for its reply.
    fn call(&mut self, node: usize, client: u32, mut body: Value) -> Option<Value> {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        body["msg_id"] = json!(msg_id);
        let line =
            json!({"src": format!("c{client}"), "dest": format!("n{}", node + 1), "body": body});
        self.send_line(node, &line.to_string());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            self.pump(Instant::now() + Duration::from_millis(5));
            if let Some(reply) = self.replies.remove(&msg_id) {
                return Some(reply);
            }
        }
        None
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A client session writing its own key and reading it back anywhere.
struct Session {
    client: u32,
    key: String,
    token: u64,
    last_acked: Option<u64>,
    /// Values whose write timed out: they may still appear later.
    maybe_written: Vec<u64>,
}

#[derive(Default, Debug)]
struct Tally {
    writes_ok: u32,
    reads_ok: u32,
    reads_local: u32,
    errors: u32,
}

fn run_phase(
    router: &mut Router,
    sessions: &mut [Session],
    duration: Duration,
    pick: &mut u64,
) -> Tally {
    let mut tally = Tally::default();
    let end = Instant::now() + duration;
    let mut next_value = (*pick % 1_000_000) * 1000;
    while Instant::now() < end {
        for s in sessions.iter_mut() {
            *pick = pick
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let node = (*pick >> 33) as usize % NODES;
            next_value += 1;
            let write = json!({"type": "write", "key": s.key, "value": next_value});
            match router.call(node, s.client, write) {
                Some(r) if r["type"] == "write_ok" => {
                    s.token = s
                        .token
                        .max(r["commit_index"].as_u64().expect("commit_index"));
                    s.last_acked = Some(next_value);
                    s.maybe_written.clear();
                    tally.writes_ok += 1;
                }
                Some(r) if r["code"] == 11 => tally.errors += 1,
                _ => {
                    s.maybe_written.push(next_value);
                    tally.errors += 1;
                }
            }
            let node = (*pick >> 40) as usize % NODES;
            let read = json!({"type": "ryw_read", "key": s.key, "last_write_index": s.token});
            match router.call(node, s.client, read) {
                Some(r) if r["type"] == "ryw_read_ok" => {
                    let value = r["value"].as_u64();
                    let fresh = value == s.last_acked
                        || value.is_some_and(|v| s.maybe_written.contains(&v));
                    assert!(
                        fresh,
                        "read-your-writes violated: session c{} wrote {:?} (token {}), read {r}",
                        s.client, s.last_acked, s.token
                    );
                    if r["served_by"] == format!("n{}", node + 1) {
                        tally.reads_local += 1;
                    }
                    tally.reads_ok += 1;
                }
                _ => tally.errors += 1,
            }
        }
    }
    tally
}

#[test]
fn three_processes_keep_read_your_writes_through_isolation_and_lag() {
    let mut router = Router::start();
    let mut sessions: Vec<Session> = (1..=3)
        .map(|c| Session {
            client: c,
            key: format!("k{c}"),
            token: 0,
            last_acked: None,
            maybe_written: Vec::new(),
        })
        .collect();
    let mut pick = 42;
    // Let an election finish before measuring the healthy phase.
    let warmup = run_phase(
        &mut router,
        &mut sessions,
        Duration::from_millis(1500),
        &mut pick,
    );
    assert!(warmup.writes_ok > 0, "{warmup:?}");

    let healthy = run_phase(
        &mut router,
        &mut sessions,
        Duration::from_secs(2),
        &mut pick,
    );
    assert!(healthy.reads_ok > 20, "{healthy:?}");
    assert!(
        healthy.reads_local * 10 >= healthy.reads_ok * 8,
        "most reads are served where they were asked when healthy: {healthy:?}"
    );

    router.isolated = Some(0);
    let isolated = run_phase(
        &mut router,
        &mut sessions,
        Duration::from_secs(3),
        &mut pick,
    );
    assert!(
        isolated.writes_ok > 0 && isolated.reads_ok > 0,
        "the majority keeps serving: {isolated:?}"
    );

    router.isolated = None;
    router.lagged = Some((1, Duration::from_millis(300)));
    let lagged = run_phase(
        &mut router,
        &mut sessions,
        Duration::from_secs(2),
        &mut pick,
    );
    assert!(lagged.writes_ok > 0 && lagged.reads_ok > 0, "{lagged:?}");

    router.lagged = None;
    let healed = run_phase(
        &mut router,
        &mut sessions,
        Duration::from_secs(2),
        &mut pick,
    );
    assert!(
        healed.writes_ok > 5 && healed.reads_ok > 5,
        "service returns after the heal: {healed:?}"
    );
    eprintln!("healthy {healthy:?}\nisolated {isolated:?}\nlagged {lagged:?}\nhealed {healed:?}");
}
