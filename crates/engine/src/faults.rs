//! Faults: what a scenario file says (data), and what a started fault does
//! to the network and the nodes, so that its heal undoes exactly that.
//!
//! Every fault composes with every other: network cuts are counted per
//! directed link and lag adds up, so overlapping partitions heal
//! independently; pauses and crashes are counted per node, so a node
//! resumes (or restarts) only when the last fault holding it ends.
//!
//! Faults name nodes by [`Target`]: a fixed node (`n3`) or a role resolved
//! when the fault starts (`leader`, `old_leader`, `follower`, ...).

use serde::{Deserialize, Serialize};

use crate::disk::Unsynced;
use crate::network::Network;

/// One fault. It starts at `at_ms` and heals (or restarts) at `until_ms`.
/// With a trigger (`when`), it is armed at `at_ms` and starts when the
/// trigger fires, if that happens before `until_ms`.
/// (Unknown fields are refused by `FaultKind`: serde cannot deny them on a
/// struct that flattens.)
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Fault {
    pub at_ms: u64,
    /// When the fault heals; [`NEVER`] (written `"never"`) for a fault that
    /// lasts to the end of the run.
    #[serde(with = "until")]
    pub until_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Trigger>,
    /// With `when`: start this long after the trigger fires (still before
    /// `until_ms`); `"leader"` keeps naming the node that won.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub after_ms: u64,
    /// With `times`: the fault happens `times` times in all, each start and
    /// end `every_ms` after the one before (a node that crashes again and
    /// again, a flapping link).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub every_ms: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub times: u64,
    #[serde(flatten)]
    pub kind: FaultKind,
}

/// Most repetitions of one fault.
pub const TIMES_MAX: u64 = 10_000;

/// Most bits one `corrupt` fault flips.
pub const BITS_MAX: u32 = 1_024;

fn is_zero(ms: &u64) -> bool {
    *ms == 0
}

/// `until_ms` of a fault that never heals.
pub const NEVER: u64 = u64::MAX;

/// `until_ms` is a number of milliseconds, or `"never"`.
mod until {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::NEVER;

    pub fn serialize<S: Serializer>(ms: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        if *ms == NEVER {
            serializer.serialize_str("never")
        } else {
            serializer.serialize_u64(*ms)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Until {
            Ms(u64),
            Word(String),
        }
        match Until::deserialize(deserializer) {
            Ok(Until::Ms(ms)) => Ok(ms),
            Ok(Until::Word(word)) if word == "never" => Ok(NEVER),
            _ => Err(serde::de::Error::custom(
                "expected milliseconds (a non-negative integer) or \"never\"",
            )),
        }
    }
}

impl Fault {
    /// A fault from `at_ms` to `until_ms`: no trigger, no repetition.
    pub fn timed(at_ms: u64, until_ms: u64, kind: FaultKind) -> Fault {
        Fault {
            at_ms,
            until_ms,
            when: None,
            after_ms: 0,
            every_ms: 0,
            times: 0,
            kind,
        }
    }

    /// Whether the fault lasts to the end of the run.
    pub fn never_heals(&self) -> bool {
        self.until_ms == NEVER
    }

    /// Each time the fault happens, as a fault of its own (one, unless it
    /// repeats), with the label traces give it: `faults[2]`, `faults[2]#5`.
    pub fn occurrences(&self, index: usize) -> Vec<(String, Fault)> {
        if self.times <= 1 {
            return vec![(format!("faults[{index}]"), self.clone())];
        }
        (0..self.times)
            .map(|k| {
                let shift_ms = k.saturating_mul(self.every_ms);
                let fault = Fault {
                    at_ms: self.at_ms.saturating_add(shift_ms),
                    until_ms: if self.never_heals() {
                        NEVER
                    } else {
                        self.until_ms.saturating_add(shift_ms)
                    },
                    every_ms: 0,
                    times: 0,
                    ..self.clone()
                };
                (format!("faults[{index}]#{}", k + 1), fault)
            })
            .collect()
    }

    /// When the last occurrence heals.
    pub fn last_until_ms(&self) -> u64 {
        if self.never_heals() {
            return NEVER;
        }
        let shift_ms = self.times.saturating_sub(1).saturating_mul(self.every_ms);
        self.until_ms.saturating_add(shift_ms)
    }
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
    /// The leader has just appended an entry to its log (a client's write,
    /// not the entry its election adds), before it sends it anywhere: a
    /// crash then leaves the entry on the leader alone, a cut keeps it
    /// from the others. `"leader"` names that leader.
    LeaderAppended,
}

impl Trigger {
    /// For traces: "a leader is elected".
    // Longer than 70 lines on purpose: one arm per fault kind: how traces and diagrams name it.
    pub fn describe(self) -> &'static str {
        match self {
            Trigger::LeaderElected => "a leader is elected",
            Trigger::LeaderAppended => "the leader appends an entry",
        }
    }
}

/// What a fault does. `node`, `from`, `to` and `groups` name a [`Target`]:
/// one node or, for `majority` and `followers_but_one`, several; a fault
/// aimed at several nodes does to each what it would do to one.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Cut every link of the node(s), both ways.
    Isolate { node: String },
    /// Cut the links from `from` to `to` only (one way).
    OneWay { from: Vec<String>, to: Vec<String> },
    /// Split into a minority (with the node named, if any) and the rest; or,
    /// with `groups`, into each group and the rest (several minorities).
    Split {
        #[serde(default)]
        minority_with: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        groups: Vec<Vec<String>>,
    },
    /// Each node talks only to its two neighbours in id order.
    Ring,
    /// Extra delay on every link of the node(s), client links included
    /// unless `spare_clients`.
    Lag {
        node: String,
        extra_ms: u64,
        #[serde(default, skip_serializing_if = "is_false")]
        spare_clients: bool,
    },
    /// Make the links from `from` to `to` lossy (`loss`, a probability)
    /// and slow (`extra_ms`), one way.
    Link {
        from: Vec<String>,
        to: Vec<String>,
        #[serde(default)]
        loss: f64,
        #[serde(default)]
        extra_ms: u64,
    },
    /// Make the links between every client and the node(s) lossy and slow;
    /// `loss` 1 cuts them, so clients time out and try elsewhere.
    ClientLink {
        node: String,
        #[serde(default)]
        loss: f64,
        #[serde(default)]
        extra_ms: u64,
    },
    /// Freeze the node(s): no deliveries, no timers; they resume with their backlog.
    Pause { node: String },
    /// Crash the node(s) (volatile state and in-flight messages lost),
    /// restart from durable state at `until_ms`. On a node with a disk,
    /// `unsynced` says what becomes of writes not yet fsynced: `prefix`
    /// (the default: any prefix survives, drawn by the seed), `lost`, or
    /// `torn` (a prefix survives and the rest reads as zeros).
    Crash {
        node: String,
        #[serde(default, skip_serializing_if = "is_prefix")]
        unsynced: Unsynced,
    },
    /// Flip `bits` bits (default 1), drawn by the seed, of what the
    /// node(s)' disk holds durably: corrupted sectors. It happens at
    /// `at_ms`; the damage stays (`until_ms` ends only the shading).
    Corrupt {
        node: String,
        #[serde(default = "one_bit")]
        bits: u32,
        /// Only this file's bytes (a snapshot, say); every file by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// The node(s)' disk is full: every write fails until `until_ms`.
    FullDisk { node: String },
    /// Crash the node(s) and lose the whole disk, as if its data directory
    /// were deleted: it restarts empty at `until_ms`.
    Wipe { node: String },
    /// Crash the node(s); the disk loses a suffix of what it had synced of
    /// its largest file, or of `file` (drawn by the seed, up to all of it),
    /// as a disk that lied about an fsync or an operator's cut would: a
    /// torn file. It restarts at `until_ms`.
    LoseSyncedTail {
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// From `at_ms`, the next rename onto `file` on the node(s)' disk does
    /// not happen: the process crashes right there, its temporary file
    /// written and synced and the old `file` still in place. It restarts
    /// at `until_ms`; if no such rename came by then, nothing happened.
    CrashAtRename { node: String, file: String },
    /// Every fsync the node(s)' disk completes until `until_ms` fails, and
    /// the pages it covered are dropped: they still read back until a
    /// crash, which zeroes them, even if a later fsync succeeded (Linux
    /// after a writeback error). The process is told, and a store that
    /// stops on it is restarted at `until_ms`.
    FsyncError { node: String },
    /// Every fsync the node(s) start takes `extra_ms` longer.
    SlowFsync { node: String, extra_ms: u64 },
}

fn is_prefix(unsynced: &Unsynced) -> bool {
    *unsynced == Unsynced::Prefix
}

fn one_bit() -> u32 {
    1
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl FaultKind {
    /// Every node name the fault mentions.
    pub fn node_names(&self) -> Vec<&str> {
        match self {
            FaultKind::Isolate { node }
            | FaultKind::Lag { node, .. }
            | FaultKind::ClientLink { node, .. }
            | FaultKind::Pause { node }
            | FaultKind::Crash { node, .. }
            | FaultKind::Corrupt { node, .. }
            | FaultKind::FullDisk { node }
            | FaultKind::Wipe { node }
            | FaultKind::LoseSyncedTail { node, .. }
            | FaultKind::CrashAtRename { node, .. }
            | FaultKind::FsyncError { node }
            | FaultKind::SlowFsync { node, .. } => vec![node],
            FaultKind::OneWay { from, to } | FaultKind::Link { from, to, .. } => {
                from.iter().chain(to).map(String::as_str).collect()
            }
            FaultKind::Split {
                minority_with,
                groups,
            } => minority_with
                .iter()
                .chain(groups.iter().flatten())
                .map(String::as_str)
                .collect(),
            FaultKind::Ring => vec![],
        }
    }

    /// How a diagram shades the fault's timelines.
    pub fn shading(&self) -> Shading {
        match self {
            FaultKind::Lag { .. } => Shading::Lag,
            FaultKind::Link { .. } | FaultKind::ClientLink { .. } => Shading::Link,
            FaultKind::Pause { .. } => Shading::Pause,
            FaultKind::Crash { .. }
            | FaultKind::Wipe { .. }
            | FaultKind::LoseSyncedTail { .. }
            | FaultKind::CrashAtRename { .. } => Shading::Crash,
            FaultKind::Corrupt { .. }
            | FaultKind::FullDisk { .. }
            | FaultKind::FsyncError { .. }
            | FaultKind::SlowFsync { .. } => Shading::Disk,
            _ => Shading::Partition,
        }
    }
}

/// What a node name in a fault points at. Roles are resolved when the
/// fault starts; faults starting in the same millisecond agree on who leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `n1`..`nN`.
    Node(usize),
    /// `leader`: the node leading the highest term. If nobody leads, the
    /// fault waits for the next leader (still before `until_ms`); a
    /// triggered fault names the leader that fired it.
    Leader,
    /// `old_leader`: the last node that led before the current leader.
    OldLeader,
    /// `follower`: one live node that does not lead, drawn by the seed.
    Follower,
    /// `followers_but_one`: every live node that does not lead, except one
    /// drawn by the seed.
    FollowersButOne,
    /// `longest_log`: the live node with the longest log (the lowest
    /// numbered among equals).
    LongestLog,
    /// `majority`: a majority of all nodes, drawn by the seed among the
    /// live ones.
    Majority,
    /// `all`: every node, live or not (a power cut, when crashing).
    All,
}

/// The role names a fault may use besides `n1`..`nN`.
pub const ROLE_NAMES: [&str; 7] = [
    "leader",
    "old_leader",
    "follower",
    "followers_but_one",
    "longest_log",
    "majority",
    "all",
];

/// Reads a node name: a role (see [`ROLE_NAMES`]) or `n1..=nN`, written
/// exactly so (`n01` and `n+1` are not `n1`).
pub fn parse_target(name: &str, nodes: usize) -> Result<Target, String> {
    let role = match name {
        "leader" => Some(Target::Leader),
        "old_leader" => Some(Target::OldLeader),
        "follower" => Some(Target::Follower),
        "followers_but_one" => Some(Target::FollowersButOne),
        "longest_log" => Some(Target::LongestLog),
        "majority" => Some(Target::Majority),
        "all" => Some(Target::All),
        _ => None,
    };
    if let Some(role) = role {
        return Ok(role);
    }
    let digits = name
        .strip_prefix('n')
        .filter(|k| !k.starts_with('0') && k.bytes().all(|b| b.is_ascii_digit()));
    match digits.and_then(|k| k.parse::<usize>().ok()) {
        Some(k) if (1..=nodes).contains(&k) => Ok(Target::Node(k - 1)),
        _ => Err(format!(
            "node {name:?} is neither one of n1..n{nodes} nor a role ({})",
            ROLE_NAMES.join(", ")
        )),
    }
}

/// Checks that every fault names nodes a run of `nodes` nodes has. The
/// error names the fault.
pub fn check_names(faults: &[Fault], nodes: usize) -> Result<(), String> {
    for (i, fault) in faults.iter().enumerate() {
        for name in fault.kind.node_names() {
            parse_target(name, nodes).map_err(|e| format!("field 'faults[{i}]': {e}"))?;
        }
    }
    Ok(())
}

/// Whether a fault of `kind` among `nodes` nodes changes nothing whatever
/// its names resolve to: a split with no minority, a ring where every node
/// neighbours every other, a one-way cut from a node to itself alone.
pub fn cuts_nothing(kind: &FaultKind, nodes: usize) -> bool {
    match kind {
        FaultKind::Split { .. } => nodes <= 2,
        FaultKind::Ring => nodes <= 3,
        FaultKind::OneWay { from, to } => {
            let fixed = |name: &String| match parse_target(name, nodes) {
                Ok(Target::Node(i)) => Some(i),
                _ => None,
            };
            let from: Option<Vec<usize>> = from.iter().map(fixed).collect();
            let to: Option<Vec<usize>> = to.iter().map(fixed).collect();
            match (from, to) {
                (Some(from), Some(to)) => from.iter().all(|f| to.iter().all(|t| t == f)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Checks every fault a person wrote: its names, and that it can cut
/// something. (Swarm draws are only name-checked: their draws stay as they
/// were, so old seeds keep meaning the same runs.) The error names the fault.
// Longer than 70 lines on purpose: one check per fault kind and field, each naming the field it refuses.
pub fn check(faults: &[Fault], nodes: usize) -> Result<(), String> {
    check_names(faults, nodes)?;
    for (i, fault) in faults.iter().enumerate() {
        let here = format!("field 'faults[{i}]'");
        if fault.times > TIMES_MAX {
            return Err(format!(
                "{here}: 'times' must be at most {TIMES_MAX}, got {}",
                fault.times
            ));
        }
        if (fault.times > 1) != (fault.every_ms > 0) {
            return Err(format!(
                "{here}: a repeated fault needs both 'every_ms' (at least 1) and 'times' (at least 2)"
            ));
        }
        if fault.times > 1 && fault.never_heals() {
            return Err(format!("{here}: a fault that never heals cannot repeat"));
        }
        match &fault.kind {
            FaultKind::Split { .. } if nodes <= 2 => {
                return Err(format!("{here}: a split of {nodes} node(s) has no majority to keep apart from a minority"));
            }
            FaultKind::Split {
                minority_with: Some(_),
                groups,
            } if !groups.is_empty() => {
                return Err(format!(
                    "{here}: a split takes 'minority_with' or 'groups', not both"
                ));
            }
            FaultKind::Split { groups, .. } if groups.iter().any(Vec::is_empty) => {
                return Err(format!("{here}: every group of a split needs a node"));
            }
            FaultKind::Split { groups, .. } => {
                // A node named in two groups would silently land in the last.
                for (g, group) in groups.iter().enumerate() {
                    for name in group {
                        if let Some(h) = groups[..g]
                            .iter()
                            .position(|earlier| earlier.contains(name))
                        {
                            return Err(format!(
                                "{here}: {name:?} is in 'groups[{h}]' and 'groups[{g}]'; a node can be on one side only"
                            ));
                        }
                    }
                }
            }
            FaultKind::Ring if nodes <= 3 => {
                return Err(format!("{here}: a ring of {nodes} nodes cuts nothing (every node neighbours every other)"));
            }
            FaultKind::OneWay { from, to } | FaultKind::Link { from, to, .. }
                if from.is_empty() || to.is_empty() =>
            {
                return Err(format!("{here}: needs nodes in both 'from' and 'to'"));
            }
            FaultKind::Link { loss, extra_ms, .. }
            | FaultKind::ClientLink { loss, extra_ms, .. } => {
                if !(0.0..=1.0).contains(loss) {
                    return Err(format!("{here}: 'loss' must be within 0..=1, got {loss}"));
                }
                if *loss == 0.0 && *extra_ms == 0 {
                    return Err(format!(
                        "{here}: a link fault with no 'loss' and no 'extra_ms' changes nothing"
                    ));
                }
            }
            FaultKind::SlowFsync { extra_ms: 0, .. } => {
                return Err(format!(
                    "{here}: a slow_fsync with 'extra_ms' 0 changes nothing"
                ));
            }
            FaultKind::Corrupt { bits: 0, .. } => {
                return Err(format!(
                    "{here}: a corrupt fault with 'bits' 0 changes nothing"
                ));
            }
            FaultKind::Corrupt { bits, .. } if *bits > BITS_MAX => {
                return Err(format!(
                    "{here}: 'bits' must be at most {BITS_MAX}, got {bits}"
                ));
            }
            FaultKind::OneWay { from, to } => {
                let fixed =
                    |name: &String| matches!(parse_target(name, nodes), Ok(Target::Node(_)));
                if let Some(both) = from.iter().find(|f| fixed(f) && to.contains(f)) {
                    return Err(format!(
                        "{here}: one_way from {both} to itself cuts nothing"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The kind of shading a fault puts on a diagram's timelines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shading {
    Partition,
    Lag,
    /// Lossy or slow links.
    Link,
    Pause,
    Crash,
    /// A disk fault: corruption, a full disk, slow fsyncs.
    Disk,
}

impl Shading {
    pub fn name(self) -> &'static str {
        match self {
            Shading::Partition => "partition",
            Shading::Lag => "lag",
            Shading::Link => "link",
            Shading::Pause => "pause",
            Shading::Crash => "crash",
            Shading::Disk => "disk",
        }
    }
}

/// What a started fault did, so its end can undo exactly that.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    Cuts(Vec<(usize, usize)>),
    Lag {
        nodes: Vec<usize>,
        extra_ms: u64,
        spare_clients: bool,
    },
    Links {
        links: Vec<(usize, usize)>,
        loss: f64,
        extra_ms: u64,
    },
    ClientLinks {
        nodes: Vec<usize>,
        loss: f64,
        extra_ms: u64,
    },
    Pause(Vec<usize>),
    Crash(Vec<usize>, Unsynced, DiskLoss),
    /// Done when it started; nothing to undo.
    Corrupt {
        nodes: Vec<usize>,
        bits: u32,
        file: Option<String>,
    },
    /// Armed when it started; a node that crashed on it restarts at its end.
    CrashAtRename {
        nodes: Vec<usize>,
        file: String,
    },
    FullDisk(Vec<usize>),
    FsyncError(Vec<usize>),
    SlowFsync {
        nodes: Vec<usize>,
        extra_ms: u64,
    },
}

/// What a crash does to the disk beyond losing unsynced writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskLoss {
    Nothing,
    /// Every file is gone.
    Wipe,
    /// A suffix of the synced bytes of the named file, or of the largest,
    /// is gone.
    SyncedTail(Option<String>),
}

/// Every directed link between two nodes of different sides (`side[i]`).
fn cuts_between_sides(side: &[usize]) -> Vec<(usize, usize)> {
    let n = side.len();
    let mut cuts = Vec::new();
    for a in 0..n {
        for b in 0..n {
            if side[a] != side[b] {
                cuts.push((a, b));
            }
        }
    }
    cuts
}

/// Every link from a node of `from` to another node of `to`, once.
fn directed_links(
    from: &[String],
    to: &[String],
    resolve: &mut impl FnMut(&str) -> Vec<usize>,
) -> Vec<(usize, usize)> {
    let from: Vec<usize> = from.iter().flat_map(|f| resolve(f)).collect();
    let to: Vec<usize> = to.iter().flat_map(|t| resolve(t)).collect();
    let mut links: Vec<(usize, usize)> = from
        .iter()
        .flat_map(|&f| to.iter().filter(move |&&t| t != f).map(move |&t| (f, t)))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    links.retain(|link| seen.insert(*link));
    links
}

/// What `kind` does among `nodes` nodes, each name resolved by `resolve`
/// to the node(s) it points at now.
// Longer than 70 lines on purpose: one arm per fault kind: what each does, side by side.
pub fn plan(
    kind: &FaultKind,
    nodes: usize,
    mut resolve: impl FnMut(&str) -> Vec<usize>,
) -> Applied {
    let n = nodes;
    match kind {
        FaultKind::Isolate { node } => {
            let set = resolve(node);
            let mut cuts = Vec::new();
            for &x in &set {
                for j in (0..n).filter(|&j| j != x) {
                    // A link between two isolated nodes is cut once.
                    if !(set.contains(&j) && j < x) {
                        cuts.extend([(x, j), (j, x)]);
                    }
                }
            }
            Applied::Cuts(cuts)
        }
        FaultKind::OneWay { from, to } => Applied::Cuts(directed_links(from, to, &mut resolve)),
        FaultKind::Link {
            from,
            to,
            loss,
            extra_ms,
        } => Applied::Links {
            links: directed_links(from, to, &mut resolve),
            loss: *loss,
            extra_ms: *extra_ms,
        },
        FaultKind::ClientLink {
            node,
            loss,
            extra_ms,
        } => Applied::ClientLinks {
            nodes: resolve(node),
            loss: *loss,
            extra_ms: *extra_ms,
        },
        FaultKind::Split {
            minority_with,
            groups,
        } if groups.is_empty() => {
            let first = match minority_with.as_deref() {
                Some(name) => resolve(name).first().copied().unwrap_or(0),
                None => 0,
            };
            let minority: Vec<usize> = (0..(n - 1) / 2).map(|k| (first + k) % n).collect();
            let side: Vec<usize> = (0..n).map(|i| usize::from(minority.contains(&i))).collect();
            Applied::Cuts(cuts_between_sides(&side))
        }
        FaultKind::Split { groups, .. } => {
            // Side 0 is everyone in no group; group g is side g + 1.
            let mut side = vec![0; n];
            for (g, group) in groups.iter().enumerate() {
                for name in group {
                    for x in resolve(name) {
                        side[x] = g + 1;
                    }
                }
            }
            Applied::Cuts(cuts_between_sides(&side))
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
        FaultKind::Lag {
            node,
            extra_ms,
            spare_clients,
        } => Applied::Lag {
            nodes: resolve(node),
            extra_ms: *extra_ms,
            spare_clients: *spare_clients,
        },
        FaultKind::Pause { node } => Applied::Pause(resolve(node)),
        FaultKind::Crash { node, unsynced } => {
            Applied::Crash(resolve(node), *unsynced, DiskLoss::Nothing)
        }
        FaultKind::Wipe { node } => Applied::Crash(resolve(node), Unsynced::Lost, DiskLoss::Wipe),
        FaultKind::LoseSyncedTail { node, file } => Applied::Crash(
            resolve(node),
            Unsynced::Prefix,
            DiskLoss::SyncedTail(file.clone()),
        ),
        FaultKind::CrashAtRename { node, file } => Applied::CrashAtRename {
            nodes: resolve(node),
            file: file.clone(),
        },
        FaultKind::FsyncError { node } => Applied::FsyncError(resolve(node)),
        FaultKind::Corrupt { node, bits, file } => Applied::Corrupt {
            nodes: resolve(node),
            bits: *bits,
            file: file.clone(),
        },
        FaultKind::FullDisk { node } => Applied::FullDisk(resolve(node)),
        FaultKind::SlowFsync { node, extra_ms } => Applied::SlowFsync {
            nodes: resolve(node),
            extra_ms: *extra_ms,
        },
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
        Applied::Lag {
            nodes,
            extra_ms,
            spare_clients,
        } => {
            for &x in nodes {
                if active {
                    network.add_lag(x, *extra_ms, *spare_clients);
                } else {
                    network.remove_lag(x, *extra_ms, *spare_clients);
                }
            }
        }
        Applied::Links {
            links,
            loss,
            extra_ms,
        } => {
            for &(a, b) in links {
                network.degrade_link(a, b, *loss, *extra_ms, active);
            }
        }
        Applied::ClientLinks {
            nodes,
            loss,
            extra_ms,
        } => {
            for &x in nodes {
                network.degrade_client_links(x, *loss, *extra_ms, active);
            }
        }
        Applied::Pause(_)
        | Applied::Crash(..)
        | Applied::FsyncError(_)
        | Applied::Corrupt { .. }
        | Applied::CrashAtRename { .. }
        | Applied::FullDisk(_)
        | Applied::SlowFsync { .. } => {}
    }
}

/// For traces: `isolate: cut n1->n2 n2->n1`, `pause n3`.
// Longer than 70 lines on purpose: one arm per fault kind, in the order the kinds are declared.
pub fn describe(kind: &FaultKind, applied: &Applied) -> String {
    let name = |i: &usize| format!("n{}", i + 1);
    let names = |nodes: &[usize]| {
        let named: Vec<String> = nodes.iter().map(name).collect();
        if named.is_empty() {
            "nobody".to_owned()
        } else {
            named.join(" ")
        }
    };
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
        Applied::Lag {
            nodes,
            extra_ms,
            spare_clients,
        } => {
            let spared = if *spare_clients {
                " (client links spared)"
            } else {
                ""
            };
            format!("lag {} by {extra_ms} ms{spared}", names(nodes))
        }
        Applied::Links {
            links,
            loss,
            extra_ms,
        } => {
            let links: Vec<String> = links
                .iter()
                .map(|(a, b)| format!("{}->{}", name(a), name(b)))
                .collect();
            format!("links {}: loss {loss}, +{extra_ms} ms", links.join(" "))
        }
        Applied::ClientLinks {
            nodes,
            loss,
            extra_ms,
        } => format!(
            "client links of {}: loss {loss}, +{extra_ms} ms",
            names(nodes)
        ),
        Applied::Pause(nodes) => format!("pause {}", names(nodes)),
        Applied::Crash(nodes, _, DiskLoss::Wipe) => {
            format!("crash {} and wipe its disk", names(nodes))
        }
        Applied::Crash(nodes, _, DiskLoss::SyncedTail(None)) => {
            format!("crash {}, losing synced writes", names(nodes))
        }
        Applied::Crash(nodes, _, DiskLoss::SyncedTail(Some(file))) => {
            format!("crash {}, losing synced writes of {file}", names(nodes))
        }
        Applied::CrashAtRename { nodes, file } => {
            format!("crash {} at its next rename onto {file}", names(nodes))
        }
        Applied::Crash(nodes, unsynced, DiskLoss::Nothing) => match unsynced {
            Unsynced::Prefix => format!("crash {}", names(nodes)),
            Unsynced::Lost => format!("crash {} (unsynced writes lost)", names(nodes)),
            Unsynced::Torn => format!("crash {} (unsynced writes torn)", names(nodes)),
        },
        Applied::Corrupt { nodes, bits, file } => match file {
            None => format!("corrupt {bits} bit(s) on the disk of {}", names(nodes)),
            Some(file) => format!("corrupt {bits} bit(s) of {file} on {}", names(nodes)),
        },
        Applied::FullDisk(nodes) => format!("full disk on {}", names(nodes)),
        Applied::FsyncError(nodes) => format!("fsyncs fail on {}", names(nodes)),
        Applied::SlowFsync { nodes, extra_ms } => {
            format!("fsync +{extra_ms} ms on {}", names(nodes))
        }
    }
}

/// The timelines a fault shades: the nodes it cuts off, slows, pauses or crashes.
pub fn shaded_lanes(kind: &FaultKind, applied: &Applied) -> Vec<usize> {
    let mut lanes: Vec<usize> = match (kind, applied) {
        (
            _,
            Applied::Lag { nodes, .. }
            | Applied::ClientLinks { nodes, .. }
            | Applied::Pause(nodes)
            | Applied::Crash(nodes, _, _)
            | Applied::FsyncError(nodes)
            | Applied::Corrupt { nodes, .. }
            | Applied::CrashAtRename { nodes, .. }
            | Applied::FullDisk(nodes)
            | Applied::SlowFsync { nodes, .. },
        ) => nodes.clone(),
        (_, Applied::Links { links, .. }) => links.iter().map(|&(a, _)| a).collect(),
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
        assert_eq!(parse_target("old_leader", 3), Ok(Target::OldLeader));
        assert_eq!(parse_target("majority", 3), Ok(Target::Majority));
        for bad in ["n4", "n0", "n01", "n+1", "N1", "", "n", "Leader"] {
            assert!(parse_target(bad, 3).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn faults_are_checked_by_every_node_name_they_hold_and_groups_may_not_overlap() {
        let fault = |kind| Fault::timed(1, 2, kind);
        let wipe = fault(FaultKind::Wipe { node: "n4".into() });
        assert!(check(&[wipe], 3).is_err(), "n4 of 3 nodes");
        let groups = |groups: Vec<Vec<&str>>| {
            fault(FaultKind::Split {
                minority_with: None,
                groups: groups
                    .into_iter()
                    .map(|g| g.into_iter().map(String::from).collect())
                    .collect(),
            })
        };
        let error =
            check(&[groups(vec![vec!["n1", "n2"], vec!["n2", "n3"]])], 5).expect_err("overlap");
        assert!(
            error.contains(r#""n2" is in 'groups[0]' and 'groups[1]'"#),
            "{error}"
        );
        assert_eq!(
            check(&[groups(vec![vec!["n1", "n2"], vec!["n3"]])], 5),
            Ok(())
        );
    }

    #[test]
    fn each_kind_of_fault_shades_as_what_it_does() {
        let node = || "n1".to_owned();
        let cases = [
            (FaultKind::Pause { node: node() }, Shading::Pause),
            (
                FaultKind::Crash {
                    node: node(),
                    unsynced: Unsynced::Prefix,
                },
                Shading::Crash,
            ),
            (FaultKind::Wipe { node: node() }, Shading::Crash),
            (
                FaultKind::LoseSyncedTail {
                    node: node(),
                    file: None,
                },
                Shading::Crash,
            ),
            (
                FaultKind::CrashAtRename {
                    node: node(),
                    file: "snapshot".into(),
                },
                Shading::Crash,
            ),
            (FaultKind::FsyncError { node: node() }, Shading::Disk),
            (
                FaultKind::Corrupt {
                    node: node(),
                    bits: 1,
                    file: None,
                },
                Shading::Disk,
            ),
            (FaultKind::Isolate { node: node() }, Shading::Partition),
        ];
        for (kind, shading) in cases {
            assert_eq!(kind.shading(), shading, "{kind:?}");
        }
    }

    #[test]
    fn a_split_cuts_the_minority_off_both_ways() {
        let kind = FaultKind::Split {
            minority_with: Some("n2".into()),
            groups: Vec::new(),
        };
        let applied = plan(&kind, 5, |_| vec![1]);
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
    fn a_split_into_groups_makes_each_group_an_island() {
        let kind = FaultKind::Split {
            minority_with: None,
            groups: vec![
                vec!["n1".into(), "n2".into()],
                vec!["n3".into(), "n4".into()],
            ],
        };
        let resolve = |name: &str| vec![name[1..].parse::<usize>().expect("nK") - 1];
        let Applied::Cuts(cuts) = plan(&kind, 7, resolve) else {
            panic!("a split cuts links");
        };
        let linked = |a: usize, b: usize| !cuts.contains(&(a, b));
        assert!(linked(0, 1) && linked(1, 0), "n1 and n2 together");
        assert!(linked(2, 3), "n3 and n4 together");
        assert!(linked(4, 6) && linked(5, 4), "the rest together");
        assert!(!linked(0, 2) && !linked(3, 1) && !linked(0, 4) && !linked(6, 3));
        // 7 nodes in islands of 2, 2 and 3: 7*6 links less those inside.
        assert_eq!(cuts.len(), 42 - (2 + 2 + 6));
    }

    #[test]
    fn a_ring_keeps_only_neighbours() {
        let Applied::Cuts(cuts) = plan(&FaultKind::Ring, 5, |_| vec![0]) else {
            panic!("a ring cuts links");
        };
        assert!(!cuts.contains(&(0, 1)) && !cuts.contains(&(0, 4)));
        assert!(cuts.contains(&(0, 2)) && cuts.contains(&(2, 0)));
        assert_eq!(cuts.len(), 5 * 2);
    }
}
