//! Swarm draws (TigerBeetle VOPR's swarm testing): each seed draws its own
//! network and its own faults, so a sweep explores many fault mixes.
//!
//! The order of the draws is part of what a seed means: change it and old
//! failing seeds stop reproducing. A new kind of draw gets a new function,
//! and the callers that must keep their seeds keep calling the old ones.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::disk::{DiskLatency, Unsynced};
use crate::faults::{Fault, FaultKind, Trigger};
use crate::network::NetworkParams;

fn coin(rng: &mut ChaCha8Rng) -> bool {
    rng.random_bool(0.5)
}

/// A delay tail, loss and duplication, each on for half the seeds.
pub fn draw_lossy_links(network: &mut NetworkParams, rng: &mut ChaCha8Rng) {
    network.delay_tail_ms_mean = if coin(rng) {
        rng.random_range(1..=30) as f64
    } else {
        0.0
    };
    network.loss = if coin(rng) {
        rng.random_range(1..=20) as f64 / 100.0
    } else {
        0.0
    };
    network.duplicate = if coin(rng) {
        rng.random_range(1..=10) as f64 / 100.0
    } else {
        0.0
    };
}

/// One timed fault of any kind among `nodes` nodes, within
/// `0..fault_time_ms`, naming the leader with `leader_share`.
pub fn draw_fault(
    rng: &mut ChaCha8Rng,
    nodes: usize,
    fault_time_ms: u64,
    length_ms: std::ops::RangeInclusive<u64>,
    leader_share: f64,
) -> Fault {
    let name = |rng: &mut ChaCha8Rng| -> String {
        if rng.random_bool(leader_share) {
            "leader".into()
        } else {
            format!("n{}", rng.random_range(1..=nodes))
        }
    };
    let at_ms = rng.random_range(0..fault_time_ms);
    let until_ms = (at_ms + rng.random_range(length_ms)).min(fault_time_ms);
    let kind = match rng.random_range(0..7) {
        0 => FaultKind::Isolate { node: name(rng) },
        1 => FaultKind::OneWay {
            from: vec![name(rng)],
            to: vec![name(rng)],
        },
        2 => FaultKind::Split {
            minority_with: Some(name(rng)),
            groups: Vec::new(),
        },
        3 => FaultKind::Ring,
        4 => FaultKind::Lag {
            node: name(rng),
            extra_ms: rng.random_range(50..=500),
            spare_clients: false,
        },
        5 => FaultKind::Pause { node: name(rng) },
        _ => FaultKind::Crash {
            node: name(rng),
            unsynced: Unsynced::Prefix,
        },
    };
    Fault::timed(at_ms, until_ms, kind)
}

/// A majority of `nodes` crashing at once and restarting from their disks.
pub fn draw_majority_crash(
    rng: &mut ChaCha8Rng,
    nodes: usize,
    fault_time_ms: u64,
    length_ms: std::ops::RangeInclusive<u64>,
) -> Vec<Fault> {
    let length_ms = rng.random_range(length_ms);
    let at_ms = rng.random_range(0..fault_time_ms);
    let until_ms = (at_ms + length_ms).min(fault_time_ms);
    let mut members: Vec<usize> = (1..=nodes).collect();
    (0..nodes / 2 + 1)
        .map(|k| {
            let pick = rng.random_range(k..members.len());
            members.swap(k, pick);
            Fault::timed(
                at_ms,
                until_ms,
                FaultKind::Crash {
                    node: format!("n{}", members[k]),
                    unsynced: Unsynced::Prefix,
                },
            )
        })
        .collect()
}

/// With probability `share`, turns a crash, isolation or pause into one
/// that hits the next leader the moment it is elected.
pub fn maybe_aim_at_next_leader(fault: &mut Fault, rng: &mut ChaCha8Rng, share: f64) {
    let triggerable = matches!(
        fault.kind,
        FaultKind::Crash { .. } | FaultKind::Isolate { .. } | FaultKind::Pause { .. }
    );
    if triggerable && rng.random_bool(share) {
        if let FaultKind::Crash { node, .. }
        | FaultKind::Isolate { node }
        | FaultKind::Pause { node } = &mut fault.kind
        {
            *node = "leader".into();
        }
        fault.when = Some(Trigger::LeaderElected);
    }
}

/// A disk for every node of the run, with latency drawn per seed (a few
/// seeds get one slow disk), and `count` disk faults within
/// `0..fault_time_ms`: crashes that lose or tear unsynced writes (one in
/// four of them a power cut of every node), corruption of one node's disk
/// (always the same node),
/// a full disk, slow fsyncs.
pub fn draw_disks(
    rng: &mut ChaCha8Rng,
    nodes: usize,
    fault_time_ms: u64,
    count: usize,
) -> (Vec<DiskLatency>, Vec<Fault>) {
    let fsync_ms_max = rng.random_range(1..=20);
    let disk = DiskLatency {
        write_ms_min: 0,
        write_ms_max: rng.random_range(0..=2),
        fsync_ms_min: rng.random_range(0..=fsync_ms_max),
        fsync_ms_max,
    };
    let mut disks = vec![disk; nodes];
    if coin(rng) {
        let slow = rng.random_range(0..nodes);
        disks[slow].fsync_ms_min += 20;
        disks[slow].fsync_ms_max += rng.random_range(20..=80);
    }
    let node = |rng: &mut ChaCha8Rng| format!("n{}", rng.random_range(1..=nodes));
    // Corruption hits one node only: a node that finds its disk corrupt
    // catches up from its peers, and none can when a majority is damaged.
    let victim = node(rng);
    let faults = (0..count)
        .map(|_| {
            let at_ms = rng.random_range(0..fault_time_ms);
            let until_ms = (at_ms + rng.random_range(50..=1_500)).min(fault_time_ms.max(at_ms + 1));
            let unsynced = |rng: &mut ChaCha8Rng| match rng.random_range(0..3) {
                0 => Unsynced::Prefix,
                1 => Unsynced::Lost,
                _ => Unsynced::Torn,
            };
            let kind = match rng.random_range(0..6) {
                0 | 1 => FaultKind::Crash {
                    node: if rng.random_bool(0.25) {
                        "all".into()
                    } else {
                        node(rng)
                    },
                    unsynced: unsynced(rng),
                },
                2 => FaultKind::Corrupt {
                    file: None,
                    node: victim.clone(),
                    bits: rng.random_range(1..=4),
                },
                3 => FaultKind::FullDisk { node: node(rng) },
                _ => FaultKind::SlowFsync {
                    node: node(rng),
                    extra_ms: rng.random_range(20..=300),
                },
            };
            Fault::timed(at_ms, until_ms, kind)
        })
        .collect();
    (disks, faults)
}

/// The faults of a disk that breaks its promises, `count` of them within
/// `0..fault_time_ms`, on top of what [`draw_disks`] draws: wipes, lost
/// synced tails and bit flips, all on one node at a time (a second node's
/// loss in the same majority is more than any replication of that size
/// survives), and fsync errors on any node.
pub fn draw_lying_disk_faults(
    rng: &mut ChaCha8Rng,
    nodes: usize,
    fault_time_ms: u64,
    count: usize,
) -> Vec<Fault> {
    let victim = format!("n{}", rng.random_range(1..=nodes));
    // One loss at a time: each lie ends before the next starts, with room
    // for the victim to catch up in between.
    let slot_ms = (fault_time_ms / count.max(1) as u64).max(2);
    (0..count as u64)
        .map(|k| {
            let start_ms = k * slot_ms;
            let at_ms = start_ms + rng.random_range(0..slot_ms / 2);
            let until_ms = at_ms + rng.random_range(1..=(slot_ms / 4).clamp(1, 600));
            let kind = match rng.random_range(0..4) {
                0 => FaultKind::Wipe {
                    node: victim.clone(),
                },
                1 => FaultKind::LoseSyncedTail {
                    file: None,
                    node: victim.clone(),
                },
                // One bit: two in the 8-byte header make the file look like
                // someone else's, which is refused and needs an operator.
                2 => FaultKind::Corrupt {
                    file: None,
                    node: victim.clone(),
                    bits: 1,
                },
                _ => FaultKind::FsyncError {
                    node: format!("n{}", rng.random_range(1..=nodes)),
                },
            };
            Fault::timed(at_ms, until_ms, kind)
        })
        .collect()
}
