//! Faults: what a scenario file says (data), and what a started fault does
//! to the network and the nodes, so that its heal undoes exactly that.
//!
//! Network cuts are counted per directed link, so overlapping partitions
//! compose and heal independently; lag adds up the same way.

use serde::{Deserialize, Serialize};

use crate::network::Network;

/// One fault. It starts at `at_ms` and heals (or restarts) at `until_ms`.
/// With a trigger (`when`), it is armed at `at_ms` and starts when the
/// trigger fires, if that happens before `until_ms`.
/// (Unknown fields are refused by `FaultKind`: serde cannot deny them on a
/// struct that flattens.)
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Fault {
    pub at_ms: u64,
    pub until_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Trigger>,
    /// With `when`: start this long after the trigger fires (still before
    /// `until_ms`); `"leader"` keeps naming the node that won.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub after_ms: u64,
    #[serde(flatten)]
    pub kind: FaultKind,
}

fn is_zero(ms: &u64) -> bool {
    *ms == 0
}

/// Moments a fault can wait for instead of a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A node has just won an election, before it sends anything as leader:
    /// `"leader"` then names it, and a crash or cut loses its first
    /// messages as leader. This is how a leader that crashes with entries
    /// of its term held by a minority, the step that builds Raft's Figure
    /// 8, is staged.
    LeaderElected,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Cut every link of one node, both ways.
    Isolate { node: String },
    /// Cut the links from `from` to `to` only (one way).
    OneWay { from: Vec<String>, to: Vec<String> },
    /// Split into a minority (with the node named, if any) and the rest.
    Split {
        #[serde(default)]
        minority_with: Option<String>,
    },
    /// Each node talks only to its two neighbours in id order.
    Ring,
    /// Extra delay on every link of one node.
    Lag { node: String, extra_ms: u64 },
    /// Freeze a node: no deliveries, no timers; it resumes with its backlog.
    Pause { node: String },
    /// Crash a node (volatile state and in-flight messages lost), restart at `until_ms`.
    Crash { node: String },
}

impl FaultKind {
    /// Every node name the fault mentions.
    pub fn node_names(&self) -> Vec<&str> {
        match self {
            FaultKind::Isolate { node }
            | FaultKind::Lag { node, .. }
            | FaultKind::Pause { node }
            | FaultKind::Crash { node } => vec![node],
            FaultKind::OneWay { from, to } => from.iter().chain(to).map(String::as_str).collect(),
            FaultKind::Split { minority_with } => {
                minority_with.iter().map(String::as_str).collect()
            }
            FaultKind::Ring => vec![],
        }
    }

    /// How a diagram shades the fault's timelines.
    pub fn shading(&self) -> Shading {
        match self {
            FaultKind::Lag { .. } => Shading::Lag,
            FaultKind::Pause { .. } => Shading::Pause,
            FaultKind::Crash { .. } => Shading::Crash,
            _ => Shading::Partition,
        }
    }
}

/// What a node name in a fault points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Whichever node leads when the fault starts (or the node that fired
    /// the fault's trigger).
    Leader,
    Node(usize),
}

/// Reads a node name: `leader` or `n1..=nN`, written exactly so (`n01` and
/// `n+1` are not `n1`).
pub fn parse_target(name: &str, nodes: usize) -> Result<Target, String> {
    if name == "leader" {
        return Ok(Target::Leader);
    }
    let digits = name
        .strip_prefix('n')
        .filter(|k| !k.starts_with('0') && k.bytes().all(|b| b.is_ascii_digit()));
    match digits.and_then(|k| k.parse::<usize>().ok()) {
        Some(k) if (1..=nodes).contains(&k) => Ok(Target::Node(k - 1)),
        _ => Err(format!(
            "node {name:?} is neither \"leader\" nor one of n1..n{nodes}"
        )),
    }
}

/// Checks every node name of every fault; the error names the fault.
pub fn check_targets(faults: &[Fault], nodes: usize) -> Result<(), String> {
    for (i, fault) in faults.iter().enumerate() {
        for name in fault.kind.node_names() {
            parse_target(name, nodes).map_err(|e| format!("field 'faults[{i}]': {e}"))?;
        }
    }
    Ok(())
}

/// The kind of shading a fault puts on a diagram's timelines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shading {
    Partition,
    Lag,
    Pause,
    Crash,
}

impl Shading {
    pub fn name(self) -> &'static str {
        match self {
            Shading::Partition => "partition",
            Shading::Lag => "lag",
            Shading::Pause => "pause",
            Shading::Crash => "crash",
        }
    }
}

/// What a started fault did, so its end can undo exactly that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Cuts(Vec<(usize, usize)>),
    Lag(usize, u64),
    Pause(usize),
    Crash(usize),
}

/// What `kind` does among `nodes` nodes, names resolved by `resolve`.
pub fn plan(kind: &FaultKind, nodes: usize, resolve: impl Fn(&str) -> usize) -> Applied {
    let n = nodes;
    match kind {
        FaultKind::Isolate { node } => {
            let x = resolve(node);
            Applied::Cuts(
                (0..n)
                    .filter(|&j| j != x)
                    .flat_map(|j| [(x, j), (j, x)])
                    .collect(),
            )
        }
        FaultKind::OneWay { from, to } => {
            let from: Vec<usize> = from.iter().map(|f| resolve(f)).collect();
            let to: Vec<usize> = to.iter().map(|t| resolve(t)).collect();
            Applied::Cuts(
                from.iter()
                    .flat_map(|&f| to.iter().filter(move |&&t| t != f).map(move |&t| (f, t)))
                    .collect(),
            )
        }
        FaultKind::Split { minority_with } => {
            let first = minority_with.as_deref().map_or(0, &resolve);
            let minority: Vec<usize> = (0..(n - 1) / 2).map(|k| (first + k) % n).collect();
            let mut cuts = Vec::new();
            for a in 0..n {
                for b in 0..n {
                    if minority.contains(&a) != minority.contains(&b) {
                        cuts.push((a, b));
                    }
                }
            }
            Applied::Cuts(cuts)
        }
        FaultKind::Ring => {
            let near = |a: usize, b: usize| (a + 1) % n == b || (b + 1) % n == a;
            Applied::Cuts(
                (0..n)
                    .flat_map(|a| (0..n).map(move |b| (a, b)))
                    .filter(|&(a, b)| a != b && !near(a, b))
                    .collect(),
            )
        }
        FaultKind::Lag { node, extra_ms } => Applied::Lag(resolve(node), *extra_ms),
        FaultKind::Pause { node } => Applied::Pause(resolve(node)),
        FaultKind::Crash { node } => Applied::Crash(resolve(node)),
    }
}

/// Switches a fault's network part on (`active`) or off: its cuts and lag.
/// Pause and crash are the engine's, which owns the nodes.
pub fn switch_network(applied: &Applied, network: &mut Network, active: bool) {
    match applied {
        Applied::Cuts(cuts) => {
            for &(a, b) in cuts {
                if active {
                    network.cut(a, b);
                } else {
                    network.uncut(a, b);
                }
            }
        }
        Applied::Lag(x, ms) if active => network.add_lag(*x, *ms),
        Applied::Lag(x, ms) => network.remove_lag(*x, *ms),
        Applied::Pause(_) | Applied::Crash(_) => {}
    }
}

/// For traces: `isolate: cut n1->n2 n2->n1`, `pause n3`.
pub fn describe(kind: &FaultKind, applied: &Applied) -> String {
    let name = |i: &usize| format!("n{}", i + 1);
    match applied {
        Applied::Cuts(cuts) => {
            let links: Vec<String> = cuts
                .iter()
                .map(|(a, b)| format!("{}->{}", name(a), name(b)))
                .collect();
            let what = match kind {
                FaultKind::Isolate { .. } => "isolate",
                FaultKind::OneWay { .. } => "one-way partition",
                FaultKind::Split { .. } => "split",
                _ => "ring",
            };
            format!("{what}: cut {}", links.join(" "))
        }
        Applied::Lag(x, ms) => format!("lag {} by {ms} ms", name(x)),
        Applied::Pause(x) => format!("pause {}", name(x)),
        Applied::Crash(x) => format!("crash {}", name(x)),
    }
}

/// The timelines a fault shades: the nodes it cuts off, slows, pauses or crashes.
pub fn shaded_lanes(kind: &FaultKind, applied: &Applied) -> Vec<usize> {
    let mut lanes: Vec<usize> = match (kind, applied) {
        (_, Applied::Lag(x, _) | Applied::Pause(x) | Applied::Crash(x)) => vec![*x],
        // Isolate cuts one node from all others: shade the node common to every cut.
        (FaultKind::Isolate { .. }, Applied::Cuts(cuts)) => {
            let first = cuts.first().map_or(0, |&(a, _)| a);
            let common = if cuts.iter().all(|&(a, b)| a == first || b == first) {
                first
            } else {
                cuts.first().map_or(0, |&(_, b)| b)
            };
            vec![common]
        }
        // A split cuts both ways; its minority is the side with more cuts per node.
        (FaultKind::Split { .. }, Applied::Cuts(cuts)) => {
            let outgoing = |n: usize| cuts.iter().filter(|&&(a, _)| a == n).count();
            let most = cuts.iter().map(|&(a, _)| outgoing(a)).max().unwrap_or(0);
            cuts.iter()
                .map(|&(a, _)| a)
                .filter(|&a| outgoing(a) == most)
                .collect()
        }
        (FaultKind::OneWay { .. }, Applied::Cuts(cuts)) => cuts.iter().map(|&(a, _)| a).collect(),
        (_, Applied::Cuts(cuts)) => cuts.iter().flat_map(|&(a, b)| [a, b]).collect(),
    };
    lanes.sort_unstable();
    lanes.dedup();
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_exactly() {
        assert_eq!(parse_target("leader", 3), Ok(Target::Leader));
        assert_eq!(parse_target("n3", 3), Ok(Target::Node(2)));
        for bad in ["n4", "n0", "n01", "n+1", "N1", "", "n"] {
            assert!(parse_target(bad, 3).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_split_cuts_the_minority_off_both_ways() {
        let kind = FaultKind::Split {
            minority_with: Some("n2".into()),
        };
        let applied = plan(&kind, 5, |_| 1);
        let Applied::Cuts(cuts) = &applied else {
            panic!("a split cuts links");
        };
        // Minority {n2, n3} against {n1, n4, n5}: 2 * 3 links, both ways.
        assert_eq!(cuts.len(), 12);
        assert!(cuts.contains(&(1, 0)) && cuts.contains(&(0, 1)));
        assert!(!cuts.contains(&(1, 2)));
        assert_eq!(shaded_lanes(&kind, &applied), vec![1, 2]);
    }

    #[test]
    fn a_ring_keeps_only_neighbours() {
        let Applied::Cuts(cuts) = plan(&FaultKind::Ring, 5, |_| 0) else {
            panic!("a ring cuts links");
        };
        assert!(!cuts.contains(&(0, 1)) && !cuts.contains(&(0, 4)));
        assert!(cuts.contains(&(0, 2)) && cuts.contains(&(2, 0)));
        assert_eq!(cuts.len(), 5 * 2);
    }
}
