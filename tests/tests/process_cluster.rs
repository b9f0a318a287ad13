//! Three real `ryw-node` processes behind a Maelstrom-style router that
//! delays node-to-node messages, isolates a node, and lags another's links.
//! Sessions check read-your-writes on every `ryw_read` throughout.
//!
//! This test runs on the wall clock (real processes); it asserts behaviour,
//! never timing.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
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
    /// Every node's output goes here (cloned into each reader thread).
    lines_tx: mpsc::Sender<String>,
    /// Each node's `--data-dir`, if the nodes keep their state on disk.
    data_dirs: Option<Vec<std::path::PathBuf>>,
    /// How many processes were started so far (seeds differ per start).
    starts: u64,
    /// Node-to-node messages in flight: (deliver at, seq, dest node, line).
    in_flight: BinaryHeap<Reverse<(Instant, u64, usize, String)>>,
    seq: u64,
    isolated: Option<usize>,
    lagged: Option<(usize, Duration)>,
    replies: BTreeMap<u64, Value>,
    next_msg_id: u64,
    /// Extra environment for every node started (settings such as
    /// `RYW_SNAPSHOT_EVERY`).
    env: Vec<(&'static str, String)>,
}

fn node_index(id: &str) -> Option<usize> {
    id.strip_prefix('n')?.parse::<usize>().ok()?.checked_sub(1)
}

impl Router {
    /// Starts the nodes, in memory or (with `data_dirs`) on disk.
    fn start(data_dirs: Option<Vec<std::path::PathBuf>>) -> Router {
        Router::start_with(data_dirs, Vec::new())
    }

    /// Starts the nodes with `env` set for each.
    fn start_with(
        data_dirs: Option<Vec<std::path::PathBuf>>,
        env: Vec<(&'static str, String)>,
    ) -> Router {
        let (lines_tx, lines) = mpsc::channel();
        let mut router = Router {
            children: Vec::new(),
            stdins: Vec::new(),
            lines,
            lines_tx,
            data_dirs,
            starts: 0,
            in_flight: BinaryHeap::new(),
            seq: 0,
            isolated: None,
            lagged: None,
            replies: BTreeMap::new(),
            next_msg_id: 1,
            env,
        };
        for i in 0..NODES {
            let (child, stdin) = router.spawn(i);
            router.children.push(child);
            router.stdins.push(stdin);
        }
        for i in 0..NODES {
            router.init(i);
        }
        router
    }

    fn spawn(&mut self, i: usize) -> (Child, ChildStdin) {
        self.starts += 1;
        let mut command = Command::new(workspace_binary("ryw-node"));
        command.env("RYW_SEED", (i as u64 + 7 * self.starts).to_string());
        command.envs(self.env.iter().map(|(k, v)| (*k, v)));
        if let Some(dirs) = &self.data_dirs {
            command.arg("--data-dir").arg(&dirs[i]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ryw-node starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let tx = self.lines_tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        (child, stdin)
    }

    fn init(&mut self, i: usize) {
        let ids: Vec<String> = (1..=NODES).map(|k| format!("n{k}")).collect();
        let body = json!({"type": "init", "node_id": ids[i], "node_ids": ids});
        let reply = self.call(i, 0, body).expect("init_ok");
        assert_eq!(reply["type"], "init_ok");
    }

    /// `kill -9`: the process gets no chance to flush or sync anything.
    fn kill(&mut self, i: usize) {
        let _ = self.children[i].kill();
        let _ = self.children[i].wait();
    }

    /// Starts node `i` again on the same data directory.
    fn restart(&mut self, i: usize) {
        let (child, stdin) = self.spawn(i);
        self.children[i] = child;
        self.stdins[i] = stdin;
        self.init(i);
    }

    fn send_line(&mut self, node: usize, line: &str) {
        // A killed node's pipe is closed: what is sent to it is lost, as on
        // a network to a crashed machine.
        let stdin = &mut self.stdins[node];
        let _ = stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"));
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
    let mut router = Router::start(None);
    let mut sessions = sessions(3);
    let mut pick = 42;
    warm_up(&mut router, &mut sessions, &mut pick);

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

/// Writes and reads for a while, so that an election finishes before what a
/// test measures; the cluster must have taken a write by then.
fn warm_up(router: &mut Router, sessions: &mut [Session], pick: &mut u64) {
    let warmup = run_phase(router, sessions, Duration::from_millis(1500), pick);
    assert!(warmup.writes_ok > 0, "{warmup:?}");
}

fn sessions(count: u32) -> Vec<Session> {
    (1..=count)
        .map(|c| Session {
            client: c,
            key: format!("k{c}"),
            token: 0,
            last_acked: None,
            maybe_written: Vec::new(),
        })
        .collect()
}

/// Every session's key, read linearizably: the last acknowledged write or
/// one that timed out after it, never anything older.
fn assert_no_acknowledged_write_lost(router: &mut Router, sessions: &[Session], when: &str) {
    for s in sessions {
        let Some(acked) = s.last_acked else { continue };
        let mut answer = None;
        for attempt in 0..30 {
            let node = attempt % NODES;
            match router.call(node, s.client, json!({"type": "read", "key": s.key})) {
                // Error 20: the key does not exist, so the write is gone.
                Some(r) if r["type"] == "read_ok" || r["code"] == 20 => {
                    answer = Some(r);
                    break;
                }
                _ => thread::sleep(Duration::from_millis(100)),
            }
        }
        let r = answer.unwrap_or_else(|| panic!("{when}: no node answers a read of {}", s.key));
        let value = r["value"].as_u64();
        assert!(
            value == Some(acked) || value.is_some_and(|v| s.maybe_written.contains(&v)),
            "{when}: acknowledged write lost: {} was {acked} when acknowledged, now reads {r}",
            s.key
        );
    }
}

#[test]
fn three_processes_on_disk_lose_no_acknowledged_write_through_kill_9() {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kill-9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dirs: Vec<_> = (1..=NODES).map(|i| root.join(format!("n{i}"))).collect();
    let mut router = Router::start(Some(dirs.clone()));
    let mut sessions = sessions(3);
    let mut pick = 7;
    let mut writes_ok = 0;
    let mut phase = |router: &mut Router, sessions: &mut [Session], ms: u64| {
        let tally = run_phase(router, sessions, Duration::from_millis(ms), &mut pick);
        writes_ok += tally.writes_ok;
    };
    phase(&mut router, &mut sessions, 1500);
    // A minority, three times: a different node each time.
    for victim in [0, 2, 1] {
        router.kill(victim);
        phase(&mut router, &mut sessions, 1000);
        router.restart(victim);
        phase(&mut router, &mut sessions, 700);
        assert_no_acknowledged_write_lost(
            &mut router,
            &sessions,
            &format!("after n{} restarted", victim + 1),
        );
    }
    writes_ok += restart_all_and_check(&mut router, &mut sessions, &mut pick);
    assert!(
        writes_ok > 20,
        "the cluster kept taking writes: {writes_ok}"
    );
    drop(router);
    let _ = std::fs::remove_dir_all(&root);
}

/// A fresh data directory per node under the test's temporary folder.
fn data_dirs(name: &str) -> (std::path::PathBuf, Vec<std::path::PathBuf>) {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dirs = (1..=NODES).map(|i| root.join(format!("n{i}"))).collect();
    (root, dirs)
}

/// Kills node `i`, lets `damage` at its data directory, and restarts it.
fn damage_and_restart(router: &mut Router, i: usize, damage: impl FnOnce(&Path)) {
    router.kill(i);
    let dir = router.data_dirs.as_ref().expect("on disk")[i].clone();
    damage(&dir);
    router.restart(i);
}

/// Every node restarts at once, twice, and takes writes after each: a node
/// that had not caught up from its peers would now be needed for a
/// majority. Returns the writes acknowledged.
fn restart_all_and_check(router: &mut Router, sessions: &mut [Session], pick: &mut u64) -> u32 {
    let mut writes_ok = 0;
    for round in 0..2 {
        for i in 0..NODES {
            router.kill(i);
        }
        for i in 0..NODES {
            router.restart(i);
        }
        assert_no_acknowledged_write_lost(
            router,
            sessions,
            &format!("after all restarted ({round})"),
        );
        writes_ok += run_phase(router, sessions, Duration::from_millis(1000), pick).writes_ok;
    }
    writes_ok
}

/// Kills each node in turn, damages its data directory with `damage`, and
/// restarts it, with writes before and after; then restarts every node at
/// once, twice. No acknowledged write may be lost at any point.
fn lose_no_write_through(name: &str, mut pick: u64, what: &str, damage: impl Fn(usize, &Path)) {
    let (root, dirs) = data_dirs(name);
    let mut router = Router::start(Some(dirs));
    let mut sessions = sessions(3);
    warm_up(&mut router, &mut sessions, &mut pick);
    for victim in [1, 0, 2] {
        damage_and_restart(&mut router, victim, |dir| damage(victim, dir));
        let tally = run_phase(
            &mut router,
            &mut sessions,
            Duration::from_millis(1200),
            &mut pick,
        );
        assert!(tally.writes_ok > 0, "n{}{what}: {tally:?}", victim + 1);
        assert_no_acknowledged_write_lost(
            &mut router,
            &sessions,
            &format!("after n{}{what}", victim + 1),
        );
    }
    restart_all_and_check(&mut router, &mut sessions, &mut pick);
    drop(router);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn deleting_one_nodes_data_directory_loses_no_acknowledged_write() {
    lose_no_write_through("wiped", 11, "'s directory deleted", |_, dir| {
        std::fs::remove_dir_all(dir).expect("the data directory is deleted");
    });
}

#[test]
fn cutting_one_nodes_log_below_its_synced_length_loses_no_acknowledged_write() {
    lose_no_write_through("cut-log", 13, "'s log cut", |victim, dir| {
        let log = dir.join("raft.log");
        let length = std::fs::metadata(&log).expect("a log").len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .expect("opens");
        // A third, a half, a fifth: well below what was synced.
        file.set_len(length / [2, 3, 5][victim]).expect("cut");
    });
}

// Raft's lost-disk hazard on real processes: n3 is cut off while n1 and n2
// acknowledge writes; n1's directory is deleted and it restarts empty; n2
// is cut off. n1 and n3 are a majority but lack the writes: they must not
// serve a state without them. When n2 returns, nothing is lost.
#[test]
fn a_wiped_voter_and_a_node_that_missed_the_writes_do_not_elect_a_leader_without_them() {
    let (root, dirs) = data_dirs("wiped-voter");
    let mut router = Router::start(Some(dirs));
    let mut sessions = sessions(2);
    let mut pick = 17;
    run_phase(
        &mut router,
        &mut sessions,
        Duration::from_millis(1500),
        &mut pick,
    );
    router.isolated = Some(2);
    // Writes through n1 and n2 only, until each session has one acknowledged
    // while n3 is cut off (n1 and n2 may first have to elect a leader).
    let deadline = Instant::now() + Duration::from_secs(20);
    for s in &mut sessions {
        let mut acked = false;
        for attempt in 0u64.. {
            assert!(
                Instant::now() < deadline,
                "n1 and n2 took no write for c{}",
                s.client
            );
            let value = 1_000_000 + u64::from(s.client) * 1000 + attempt;
            let write = json!({"type": "write", "key": s.key, "value": value});
            match router.call((attempt % 2) as usize, s.client, write) {
                Some(r) if r["type"] == "write_ok" => {
                    s.last_acked = Some(value);
                    s.maybe_written.clear();
                    acked = true;
                }
                Some(r) if r["code"] == 11 => {}
                _ => s.maybe_written.push(value),
            }
            if acked {
                break;
            }
        }
    }
    damage_and_restart(&mut router, 0, |dir| {
        std::fs::remove_dir_all(dir).expect("the data directory is deleted");
    });
    router.isolated = Some(1);
    // Reads through n1 and n3 for two seconds: none may miss a write.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        for s in &sessions {
            for node in [0, 2] {
                let Some(r) = router.call(node, s.client, json!({"type": "read", "key": s.key}))
                else {
                    continue;
                };
                if r["type"] == "read_ok" {
                    let value = r["value"].as_u64();
                    assert!(
                        value == s.last_acked
                            || value.is_some_and(|v| s.maybe_written.contains(&v)),
                        "n{} served {r} without the acknowledged {:?}",
                        node + 1,
                        s.last_acked
                    );
                }
            }
        }
    }
    router.isolated = None;
    assert_no_acknowledged_write_lost(&mut router, &sessions, "after n2 returned");
    drop(router);
    let _ = std::fs::remove_dir_all(&root);
}

/// Bytes of each file in `dir`, by name.
fn file_sizes(dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(dir)
        .expect("a data directory")
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.metadata().ok()?.len())))
        .collect()
}

// Snapshots every 20 entries: compaction runs all the time, so the kills
// land before, during and after snapshots are written and logs replaced; a
// node kept down for a while restarts behind the compaction point and must
// catch up by snapshot.
#[test]
fn nodes_that_snapshot_often_lose_no_acknowledged_write_through_kill_9_and_stay_bounded() {
    let (root, dirs) = data_dirs("snapshots");
    let env = vec![
        ("RYW_SNAPSHOT_EVERY", "20".to_owned()),
        ("RYW_COMPACTION_MARGIN", "5".to_owned()),
    ];
    let mut router = Router::start_with(Some(dirs.clone()), env);
    let mut sessions = sessions(3);
    let mut pick = 11;
    warm_up(&mut router, &mut sessions, &mut pick);
    let mut writes_ok = 0;
    for (victim, down_ms) in [(0, 300), (2, 1500), (1, 200), (0, 1200)] {
        router.kill(victim);
        writes_ok += run_phase(
            &mut router,
            &mut sessions,
            Duration::from_millis(down_ms),
            &mut pick,
        )
        .writes_ok;
        router.restart(victim);
        writes_ok += run_phase(
            &mut router,
            &mut sessions,
            Duration::from_millis(600),
            &mut pick,
        )
        .writes_ok;
        assert_no_acknowledged_write_lost(
            &mut router,
            &sessions,
            &format!("after n{} restarted from {down_ms} ms down", victim + 1),
        );
    }
    writes_ok += restart_all_and_check(&mut router, &mut sessions, &mut pick);
    assert!(
        writes_ok > 100,
        "enough writes for many snapshots: {writes_ok}"
    );
    drop(router);
    for dir in &dirs {
        let sizes = file_sizes(dir);
        assert!(
            sizes.get("raft.snapshot").is_some_and(|&n| n > 0),
            "{}: snapshots were taken: {sizes:?}",
            dir.display()
        );
        // The log holds at most a snapshot period and its margin, however
        // many writes went by: bounded, not growing with them.
        let log: u64 = ["raft.log", "raft.log.1"]
            .iter()
            .filter_map(|f| sizes.get(*f))
            .sum();
        assert!(
            log < 64 * 1024,
            "{}: the log stays small: {sizes:?}",
            dir.display()
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
