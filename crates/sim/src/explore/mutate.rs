//! How `explore` changes an input: add, drop, shift, stretch or retarget a
//! fault, change the workload's mix, or reseed. Every change is made on
//! the scenario's JSON and parsed back, so a candidate is always a valid
//! scenario file (one the validator refuses is drawn again).

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::scenario::Scenario;

/// One input: a scenario (its fault schedule included) and a seed.
#[derive(Clone, Debug)]
pub struct Input {
    pub scenario: Scenario,
    pub seed: u64,
}

/// Tries per candidate before giving up on a parent (each try draws new
/// changes; the validator refuses some, such as a split of one node).
const TRIES_MAX: usize = 16;

/// Most faults a candidate may hold: past it, adding gives way to dropping.
const FAULTS_MAX: usize = 24;

/// Role targets a fault may name, besides `n1`..`nN`.
const ROLES: [&str; 5] = [
    "leader",
    "follower",
    "old_leader",
    "followers_but_one",
    "longest_log",
];

/// Lengths a new fault may last (ms), drawn then jittered: from a blip
/// shorter than an election timeout to longer than several.
const LENGTHS_MS: [u64; 6] = [20, 60, 150, 300, 700, 1500];

/// A mutant of `parent` and what was changed, or `None` if every try was
/// refused.
pub fn mutate(parent: &Input, rng: &mut ChaCha8Rng) -> Option<(Input, String)> {
    for _ in 0..TRIES_MAX {
        let mut value = serde_json::to_value(&parent.scenario).ok()?;
        let mut seed = parent.seed;
        let mut changes = Vec::new();
        for _ in 0..rng.random_range(1..=3) {
            changes.push(change(&mut value, &mut seed, &parent.scenario, rng));
        }
        // Efficiency bounds and the events to reach are statements about
        // the parent's own schedule and load, not about its mutants.
        if let Some(expect) = value.get_mut("expect").and_then(Value::as_object_mut) {
            for field in ["peer_msgs_per_op_max", "entries_sent_per_op_max", "reach"] {
                expect.remove(field);
            }
        }
        let Ok(scenario) = Scenario::parse(&value.to_string()) else {
            continue;
        };
        return Some((Input { scenario, seed }, changes.join(", ")));
    }
    None
}

/// One change to the scenario's JSON (or the seed); what it was.
fn change(value: &mut Value, seed: &mut u64, scenario: &Scenario, rng: &mut ChaCha8Rng) -> String {
    let faults = value["faults"].as_array().map_or(0, Vec::len);
    let pick = rng.random_range(0..100);
    match pick {
        _ if faults == 0 || (pick < 35 && faults < FAULTS_MAX) => add_fault(value, scenario, rng),
        35..=47 => {
            let i = rng.random_range(0..faults);
            value["faults"]
                .as_array_mut()
                .expect("faults is a list")
                .remove(i);
            format!("drop faults[{i}]")
        }
        48..=62 => {
            let i = rng.random_range(0..faults);
            let shift_ms = rng.random_range(-400i64..=400);
            let fault = &mut value["faults"][i];
            shift(fault, "at_ms", shift_ms);
            shift(fault, "until_ms", shift_ms);
            format!("shift faults[{i}] {shift_ms:+} ms")
        }
        63..=72 => {
            let i = rng.random_range(0..faults);
            let factor = *[0.5, 2.0].choose(rng).expect("non-empty");
            let fault = &mut value["faults"][i];
            if let (Some(at), Some(until)) = (fault["at_ms"].as_u64(), fault["until_ms"].as_u64()) {
                let length = ((until - at) as f64 * factor).max(1.0) as u64;
                fault["until_ms"] = json!(at + length);
            }
            format!("stretch faults[{i}] x{factor}")
        }
        73..=82 => {
            let i = rng.random_range(0..faults);
            let target = target(scenario.nodes, rng);
            let fault = &mut value["faults"][i];
            for field in ["node", "minority_with"] {
                if fault.get(field).is_some() {
                    fault[field] = json!(target);
                }
            }
            for field in ["from", "to"] {
                if fault.get(field).is_some() && rng.random_bool(0.5) {
                    fault[field] = json!([target]);
                }
            }
            format!("retarget faults[{i}] to {target}")
        }
        83..=86 => change_mix(value, rng),
        87..=90 => add_staged_pair(value, scenario, rng),
        91..=95 => change_node(value, scenario, rng),
        _ => {
            *seed = rng.random();
            "reseed".to_owned()
        }
    }
}

fn shift(fault: &mut Value, field: &str, by_ms: i64) {
    if let Some(ms) = fault[field].as_u64() {
        fault[field] = json!(ms.saturating_add_signed(by_ms));
    }
}

/// A role, or one node by name.
fn target(nodes: usize, rng: &mut ChaCha8Rng) -> String {
    if rng.random_bool(0.75) {
        (*ROLES.choose(rng).expect("non-empty")).to_owned()
    } else {
        format!("n{}", rng.random_range(1..=nodes))
    }
}

/// A new fault of a kind drawn from those that exercise elections, reads
/// and catching up, at a time within the run, sometimes triggered by an
/// election or an append, sometimes repeated.
fn add_fault(value: &mut Value, scenario: &Scenario, rng: &mut ChaCha8Rng) -> String {
    let nodes = scenario.nodes;
    let all: Vec<String> = (1..=nodes).map(|k| format!("n{k}")).collect();
    let t = target(nodes, rng);
    let extra_ms = *[5u64, 40, 150, 600].choose(rng).expect("non-empty");
    let loss: f64 = *[0.2, 0.5, 1.0].choose(rng).expect("non-empty");
    let mut fault = match rng.random_range(0..11) {
        0 => json!({"kind": "isolate", "node": t}),
        1 | 2 => json!({"kind": "crash", "node": t}),
        3 | 4 => json!({"kind": "pause", "node": t}),
        5 => json!({"kind": "split", "minority_with": t}),
        6 => {
            json!({"kind": "lag", "node": t, "extra_ms": extra_ms, "spare_clients": rng.random_bool(0.5)})
        }
        7 => json!({"kind": "one_way", "from": [t], "to": all}),
        8 => json!({"kind": "one_way", "from": all, "to": [t]}),
        9 => {
            json!({"kind": "link", "from": all, "to": [t], "loss": loss.min(0.5), "extra_ms": extra_ms})
        }
        _ => json!({"kind": "client_link", "node": t, "loss": loss}),
    };
    let latest_ms = scenario.duration_ms.saturating_sub(300).max(101);
    let at_ms = rng.random_range(100..latest_ms);
    let length_ms = LENGTHS_MS.choose(rng).expect("non-empty") + rng.random_range(0..20);
    fault["at_ms"] = json!(at_ms);
    fault["until_ms"] = json!(at_ms + length_ms);
    if rng.random_bool(0.35) {
        let trigger = if rng.random_bool(0.7) {
            "leader_elected"
        } else {
            "leader_appended"
        };
        fault["when"] = json!(trigger);
        // A triggered fault waits from at_ms; give it room to fire.
        fault["until_ms"] = json!(at_ms + length_ms + 1_000);
        if rng.random_bool(0.5) {
            fault["after_ms"] = json!(*[1u64, 3, 20, 60].choose(rng).expect("non-empty"));
        }
    } else if rng.random_bool(0.1) {
        fault["every_ms"] = json!(length_ms + rng.random_range(50..500));
        fault["times"] = json!(rng.random_range(2..=4));
    }
    let kind = fault["kind"].as_str().unwrap_or("?").to_owned();
    let what = format!("add {kind} of {t} at {at_ms} ms");
    match value["faults"].as_array_mut() {
        Some(list) => list.push(fault),
        None => value["faults"] = json!([fault]),
    }
    what
}

/// Two faults staged on one election, as the hand-written scenarios stage
/// Raft's hard cases (`figure-8.json`, `new-leader-late-acks.json`): the
/// moment a leader wins, its links slow or are cut one way, and a few
/// milliseconds later (its first AppendEntries sent) it pauses, crashes or
/// is cut off. Election-time windows are narrow; two independent additions
/// rarely land in the same one.
fn add_staged_pair(value: &mut Value, scenario: &Scenario, rng: &mut ChaCha8Rng) -> String {
    let nodes = scenario.nodes;
    let all: Vec<String> = (1..=nodes).map(|k| format!("n{k}")).collect();
    let extra_ms = *[150u64, 600].choose(rng).expect("non-empty");
    let (first, first_kind) = match rng.random_range(0..3) {
        0 => (
            json!({"kind": "link", "from": all, "to": ["leader"], "loss": 0.0, "extra_ms": extra_ms}),
            "slow links into",
        ),
        1 => (
            json!({"kind": "lag", "node": "leader", "extra_ms": extra_ms, "spare_clients": true}),
            "lag of",
        ),
        _ => (
            json!({"kind": "one_way", "from": ["leader"], "to": all}),
            "cut links out of",
        ),
    };
    let (second, second_kind) = match rng.random_range(0..3) {
        0 => (json!({"kind": "pause", "node": "leader"}), "pause"),
        1 => (json!({"kind": "crash", "node": "leader"}), "crash"),
        _ => (json!({"kind": "isolate", "node": "leader"}), "isolate"),
    };
    let latest_ms = scenario.duration_ms.saturating_sub(300).max(101);
    let at_ms = rng.random_range(100..latest_ms);
    let length_ms = *[300u64, 700, 1500].choose(rng).expect("non-empty");
    let after_ms = *[1u64, 3, 20].choose(rng).expect("non-empty");
    // Half the time the election is made to happen (the leader crashes
    // for a while just before), and half the time the whole is staged
    // again every so often: one election is one chance.
    let mut staged = Vec::with_capacity(3);
    let mut what = format!("stage {first_kind} and {second_kind} of a new leader from {at_ms} ms");
    let crash_first = rng.random_bool(0.5);
    if crash_first {
        staged.push(
            json!({"kind": "crash", "node": "leader", "at_ms": at_ms, "until_ms": at_ms + 300}),
        );
        what.push_str(" after crashing the leader");
    }
    let from_ms = at_ms + u64::from(crash_first);
    for (mut fault, extra) in [(first, 0), (second, after_ms)] {
        fault["at_ms"] = json!(from_ms);
        fault["until_ms"] = json!(from_ms + 1_000 + length_ms);
        fault["when"] = json!("leader_elected");
        if extra > 0 {
            fault["after_ms"] = json!(extra);
        }
        staged.push(fault);
    }
    if rng.random_bool(0.5) {
        let every_ms = 2_500 + length_ms;
        let times = rng.random_range(2..=6);
        for fault in &mut staged {
            fault["every_ms"] = json!(every_ms);
            fault["times"] = json!(times);
        }
        what.push_str(&format!(", {times} times"));
    }
    match value["faults"].as_array_mut() {
        Some(list) => list.extend(staged),
        None => value["faults"] = json!(staged),
    }
    what
}

/// Changes one of the nodes' settings that shape when reads can be served
/// and how far members fall behind: one node's state machine applies late
/// (or on time again), the bound a follower read waits, or frequent
/// snapshots. Not AppendEntries of one entry at a time (as `figure-8.json`
/// has): under a mutant's load a member behind then gains on the leader
/// by nothing, and never catches up, which liveness would blame on the
/// store.
fn change_node(value: &mut Value, scenario: &Scenario, rng: &mut ChaCha8Rng) -> String {
    if !value["node"].is_object() {
        value["node"] = json!({});
    }
    let node = &mut value["node"];
    match rng.random_range(0..4) {
        0 | 1 => {
            let name = format!("n{}", rng.random_range(1..=scenario.nodes));
            // A leader answers a write once it has applied it: a delay near
            // the clients' timeout would time out every write while that
            // node leads, a run liveness cannot judge, not a bug.
            let delay_ms_max = scenario.workload.client_timeout_ms / 4;
            let delays_ms: Vec<u64> = [0u64, 25, 50, 100, 200, 400]
                .into_iter()
                .filter(|&ms| ms <= delay_ms_max)
                .collect();
            let delay_ms = *delays_ms.choose(rng).expect("0 is always allowed");
            if !node["apply_delay_ms_of"].is_object() {
                node["apply_delay_ms_of"] = json!({});
            }
            node["apply_delay_ms_of"][&name] = json!(delay_ms);
            format!("node {name} applies {delay_ms} ms late")
        }
        2 => {
            let default_ms = ryw_core::Config::default().ryw_wait_ms_max;
            let wait_ms = node["ryw_wait_ms_max"].as_u64().unwrap_or(default_ms);
            let wait_ms = double_or_halve(wait_ms, 10..=2_000, rng);
            node["ryw_wait_ms_max"] = json!(wait_ms);
            format!("node ryw_wait_ms_max {wait_ms}")
        }
        _ => {
            node["snapshot_every"] = json!(20);
            node["compaction_margin"] = json!(5);
            "node snapshot_every 20".to_owned()
        }
    }
}

/// `n` doubled or halved (even odds), kept within `range`.
fn double_or_halve(n: u64, range: std::ops::RangeInclusive<u64>, rng: &mut ChaCha8Rng) -> u64 {
    let n = if rng.random_bool(0.5) { n * 2 } else { n / 2 };
    n.clamp(*range.start(), *range.end())
}

/// Doubles, halves, zeroes or sets one weight of the mix, or changes the
/// number of sessions.
fn change_mix(value: &mut Value, rng: &mut ChaCha8Rng) -> String {
    let workload = &mut value["workload"];
    if rng.random_bool(0.25) {
        let sessions = workload["sessions"].as_u64().unwrap_or(4);
        let sessions = double_or_halve(sessions, 1..=32, rng);
        workload["sessions"] = json!(sessions);
        return format!("sessions {sessions}");
    }
    let kinds = ["write", "ryw_read", "ryw_read_leader", "read", "cas"];
    let kind = *kinds.choose(rng).expect("non-empty");
    let weight = workload["mix"][kind].as_u64().unwrap_or(0);
    let weight = match rng.random_range(0..4) {
        0 => weight * 2,
        1 => weight / 2,
        2 => 0,
        _ => 50,
    };
    workload["mix"][kind] = json!(weight);
    format!("mix {kind} {weight}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn healthy() -> Input {
        let scenario = Scenario::parse(
            r#"{"name": "h", "nodes": 3, "duration_ms": 3000,
                "faults": [{"at_ms": 500, "until_ms": 900, "kind": "pause", "node": "leader"}]}"#,
        )
        .expect("valid");
        Input { scenario, seed: 7 }
    }

    #[test]
    fn mutants_are_valid_differ_and_are_the_same_for_the_same_draws() {
        let parent = healthy();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut again = ChaCha8Rng::seed_from_u64(1);
        let mut changed = 0;
        for _ in 0..200 {
            let (child, what) = mutate(&parent, &mut rng).expect("a valid mutant");
            let (twin, what_twin) = mutate(&parent, &mut again).expect("a valid mutant");
            assert_eq!(what, what_twin);
            assert_eq!(child.seed, twin.seed);
            let text = serde_json::to_string(&child.scenario).expect("serialises");
            assert_eq!(
                text,
                serde_json::to_string(&twin.scenario).expect("serialises")
            );
            Scenario::parse(&text).expect("a valid scenario file");
            let faults = |s: &Scenario| serde_json::to_string(&s.faults).expect("serialises");
            if child.seed != parent.seed || faults(&child.scenario) != faults(&parent.scenario) {
                changed += 1;
            }
        }
        assert!(
            changed >= 150,
            "only {changed} of 200 mutants changed the faults or the seed"
        );
    }

    #[test]
    fn node_changes_stay_where_liveness_can_judge_the_run() {
        // Clients that give up after 400 ms: no node applies more than
        // 100 ms late, or every write would time out while it leads.
        let parent = Scenario::parse(
            r#"{"name": "h", "nodes": 3, "duration_ms": 3000,
                "node": {"ryw_wait_ms_max": 300, "apply_delay_ms_of": {"n3": 25}},
                "workload": {"client_timeout_ms": 400}}"#,
        )
        .expect("valid");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut delays_ms, mut waits_ms, mut snapshots) = (Vec::new(), Vec::new(), 0);
        for _ in 0..300 {
            let mut value = serde_json::to_value(&parent).expect("serialises");
            let what = change_node(&mut value, &parent, &mut rng);
            let child = Scenario::parse(&value.to_string()).expect("a valid scenario");
            if what.contains("applies") {
                let delays = &child.node.apply_delay_ms_of;
                if !what.contains("n3") {
                    assert_eq!(delays.get("n3"), Some(&25), "other nodes' delays kept");
                }
                delays_ms.extend(delays.values().copied());
            } else if what.contains("ryw_wait_ms_max") {
                waits_ms.push(child.node.ryw_wait_ms_max);
            } else {
                assert_eq!(
                    (child.node.snapshot_every, child.node.compaction_margin),
                    (20, 5)
                );
                snapshots += 1;
            }
        }
        assert!(delays_ms.iter().all(|&ms| ms <= 100), "{delays_ms:?}");
        assert!(
            delays_ms.contains(&100) && delays_ms.contains(&0),
            "{delays_ms:?}"
        );
        assert!(
            waits_ms.iter().all(|&ms| ms == 600 || ms == 150),
            "{waits_ms:?}"
        );
        assert!(waits_ms.contains(&600) && waits_ms.contains(&150));
        assert!(snapshots > 0);
    }

    #[test]
    fn a_staged_election_is_made_to_happen_and_repeated_as_said() {
        let parent = healthy();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let (mut crashed, mut repeated) = (0, 0);
        for _ in 0..200 {
            let mut value = serde_json::to_value(&parent.scenario).expect("serialises");
            let what = add_staged_pair(&mut value, &parent.scenario, &mut rng);
            let faults = value["faults"].as_array().expect("faults")[1..].to_vec();
            let staged = &faults[faults.len() - 2..];
            for fault in staged {
                assert_eq!(fault["when"], "leader_elected", "{what}");
            }
            let at_ms = staged[0]["at_ms"].as_u64().expect("at_ms");
            if what.contains("after crashing the leader") {
                crashed += 1;
                assert_eq!(faults.len(), 3, "{what}");
                assert_eq!(faults[0]["kind"], "crash");
                assert_eq!(faults[0]["node"], "leader");
                let crash_ms = faults[0]["at_ms"].as_u64().expect("at_ms");
                assert_eq!(at_ms, crash_ms + 1, "armed just after the crash");
                assert_eq!(faults[0]["until_ms"].as_u64(), Some(crash_ms + 300));
            } else {
                assert_eq!(faults.len(), 2, "{what}");
            }
            if let Some(times) = what
                .strip_suffix(" times")
                .and_then(|w| w.rsplit(", ").next())
            {
                repeated += 1;
                let length_ms = staged[0]["until_ms"].as_u64().expect("until") - at_ms - 1_000;
                for fault in &faults {
                    assert_eq!(fault["times"].to_string(), times, "{what}");
                    assert_eq!(
                        fault["every_ms"].as_u64(),
                        Some(2_500 + length_ms),
                        "{what}"
                    );
                }
            } else {
                assert!(faults.iter().all(|f| f.get("every_ms").is_none()), "{what}");
            }
        }
        assert!((60..140).contains(&crashed), "{crashed} of 200 crash first");
        assert!((60..140).contains(&repeated), "{repeated} of 200 repeat");
    }

    #[test]
    fn every_kind_of_change_happens() {
        let parent = healthy();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let (_, what) = mutate(&parent, &mut rng).expect("a valid mutant");
            for change in what.split(", ") {
                seen.insert(change.split(' ').next().unwrap_or("").to_owned());
            }
        }
        for kind in [
            "add", "drop", "shift", "stretch", "retarget", "mix", "sessions", "stage", "node",
            "reseed",
        ] {
            assert!(seen.contains(kind), "no {kind} in {seen:?}");
        }
    }
}
