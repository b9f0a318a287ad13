//! Linearizability of one key in polynomial time when every value is
//! written at most once (Gibbons and Korach, "Testing shared memories",
//! 1997): each read names the write it saw, so the search over orders
//! collapses into checks of intervals.
//!
//! A write, and the operations that saw its value (reads, and the
//! successful `cas` from it), form a *cluster*, which a linearization must
//! hold contiguous: the write first, then everything that saw its value,
//! then the next write. Per cluster, `f` is the earliest completion and
//! `s` the latest invocation. If `f < s` the cluster's span must cover
//! `[f, s]` (a *forward zone*); otherwise all of it fits at one moment of
//! `[s, f]` (a *backward zone*). The history is linearizable only if
//!
//! 1. nothing sees a value before its write was invoked,
//! 2. no two forward zones overlap, and
//! 3. no backward zone lies inside another cluster's forward zone;
//!
//! each is necessary, so failing one is a violation. When all hold, a
//! witness order is built from the zones (the construction in the paper's
//! proof) and replayed against the register and the real-time order,
//! refused `cas` included; only a witness that replays makes the history
//! linearizable. What this cannot decide (a value written twice, a `cas`
//! invoked before any write completed that may have created the key or
//! swapped it, a witness that does not replay) goes to the search
//! (`linearizability.rs`).
//!
//! Indeterminate operations (timed out): a write or `cas` whose value a
//! completed operation saw took effect (it has no completion); one whose
//! value nobody saw is taken never to have happened, which a
//! linearization may always choose.

use std::collections::{BTreeMap, BTreeSet};

use super::lin_ops::{HistoryOp, LinOp};
use super::oracle::{value_key, ValueKey};

/// What the intervals say.
#[derive(Debug, PartialEq, Eq)]
pub enum Decided {
    Linearizable,
    Violation(String),
    /// Not decided here: the search must.
    Unknown,
}

struct Cluster {
    /// The write or cas that begins it (`None`: the initial missing value).
    writer: Option<usize>,
    /// Operations that saw its value: reads, refusals that the key is
    /// missing, and the cas that swapped it (which must come last).
    seen_by: Vec<usize>,
    /// The successful cas that swapped its value for another, if any.
    swapped_by: Option<usize>,
}

/// Times are scaled by this, so that points can go just before or after
/// an invocation or completion (which are distinct whole positions).
const SCALE: u64 = 8;

/// Decides `ops` (one key) by their read mapping, if it can.
pub fn decide(all: &[HistoryOp]) -> Decided {
    let Some((ops, clusters)) = clusters_of(all) else {
        return Decided::Unknown;
    };
    let end = |i: usize| ops[i].returned.unwrap_or(u64::MAX / SCALE);
    // 1. Nothing sees a value before its write began.
    for cluster in &clusters {
        let Some(w) = cluster.writer else { continue };
        if let Some(&r) = cluster.seen_by.iter().find(|&&r| end(r) < ops[w].invoked) {
            return Decided::Violation(format!(
                "{} {} completed at {} before {} {} was invoked at {}",
                ops[r].session,
                ops[r].op,
                end(r),
                ops[w].session,
                ops[w].op,
                ops[w].invoked
            ));
        }
    }
    // 1b. Nothing sees a value after the cas that swapped it completed.
    for cluster in &clusters {
        let Some(c) = cluster.swapped_by else {
            continue;
        };
        if let Some(&r) = cluster
            .seen_by
            .iter()
            .find(|&&r| r != c && ops[r].invoked > end(c))
        {
            return Decided::Violation(format!(
                "{} {} was invoked at {} after {} {} had swapped that value, completing at {}",
                ops[r].session,
                ops[r].op,
                ops[r].invoked,
                ops[c].session,
                ops[c].op,
                end(c)
            ));
        }
    }
    let zones: Vec<(u64, u64)> = clusters
        .iter()
        .map(|c| {
            let members = c.writer.iter().chain(&c.seen_by);
            let f = members
                .clone()
                .map(|&i| end(i))
                .min()
                .unwrap_or(u64::MAX / SCALE);
            let s = members.map(|&i| ops[i].invoked).max().unwrap_or(0);
            // The initial value holds from the beginning of time.
            (if c.writer.is_none() { 0 } else { f }, s)
        })
        .collect();
    let mut forward: Vec<(u64, u64, usize)> = zones
        .iter()
        .enumerate()
        .filter(|(_, &(f, s))| f < s)
        .map(|(k, &(f, s))| (f, s, k))
        .collect();
    forward.sort_unstable();
    // 2. Forward zones do not overlap.
    for pair in forward.windows(2) {
        let ((f1, s1, a), (f2, s2, b)) = (pair[0], pair[1]);
        if f2 < s1 {
            return Decided::Violation(format!(
                "{} and {} must each hold the key over overlapping times ({f1}..{s1} and {f2}..{s2})",
                describe(&ops, &clusters[a]),
                describe(&ops, &clusters[b]),
            ));
        }
    }
    // 3. No backward zone inside a forward zone. The forward zone that
    // could hold one starting at s_b is the last to start before it (the
    // initial value's starts at 0, before an invocation at 0: `<=`; any
    // other starts at a completion, never at an invocation's position).
    let container = |s_b: u64| {
        let at = forward.partition_point(|&(zf, _, _)| zf <= s_b);
        at.checked_sub(1)
            .map(|i| forward[i])
            .filter(|&(_, zs, _)| s_b < zs)
    };
    for (k, &(f_b, s_b)) in zones.iter().enumerate() {
        if f_b < s_b {
            continue;
        }
        if let Some((zf, zs, a)) = container(s_b) {
            if f_b < zs {
                return Decided::Violation(format!(
                    "{} must fit between {s_b} and {f_b}, all inside the time {} must hold the key ({zf}..{zs})",
                    describe(&ops, &clusters[k]),
                    describe(&ops, &clusters[a])
                ));
            }
        }
    }
    // A witness: every operation's point, in scaled time.
    let mut points: Vec<(u64, usize)> = Vec::with_capacity(ops.len());
    let mut placed = vec![false; ops.len()];
    // The writes put just before their forward zone (by their place in
    // `points`): each may go earlier, for a refused cas to fit.
    let mut late_writes: Vec<usize> = Vec::new();
    for (k, cluster) in clusters.iter().enumerate() {
        let (f, s) = zones[k];
        if f < s {
            // The write just before f, the rest as soon as they may after it.
            if let Some(w) = cluster.writer {
                if !placed[w] {
                    late_writes.push(points.len());
                    points.push((f * SCALE - 2, w));
                    placed[w] = true;
                }
            }
            for &r in &cluster.seen_by {
                if !placed[r] {
                    // The swapping cas after every other, just past s.
                    let t = if cluster.swapped_by == Some(r) {
                        s * SCALE + 1
                    } else {
                        (ops[r].invoked * SCALE).max(f * SCALE)
                    };
                    points.push((t, r));
                    placed[r] = true;
                }
            }
        } else {
            // All at one moment: s, or just after the forward zone around it.
            let t = container(s).map_or(s, |(_, zs, _)| zs) * SCALE + 4;
            // One moment for all, kept in cluster order by the tiebreak below.
            for &i in cluster.writer.iter().chain(&cluster.seen_by) {
                if !placed[i] {
                    points.push((t, i));
                    placed[i] = true;
                }
            }
        }
    }
    // Refused cas go at a moment of their interval when the key held
    // another value. If the witness does not replay, four repairs in
    // turn, each replayed again (so that none can pass a key that is not
    // linearizable):
    let refused: Vec<usize> = (0..ops.len()).filter(|&i| !placed[i]).collect();
    let attempt = |points: &[(u64, usize)]| -> Result<bool, usize> {
        let sequence = place_refusals(&ops, &in_order(points), &refused)?;
        Ok(replays(&ops, &sequence))
    };
    let judge = |points: &[(u64, usize)]| attempt(points) == Ok(true);
    if judge(&points) {
        return Decided::Linearizable;
    }
    // a backward zone put at a moment inside a forward cluster's span (its
    // write a cas chained from the value before, placed before the zone)
    // goes just after that span, if its own window allows;
    move_out_of_spans(&ops, &clusters, &zones, &mut points);
    if judge(&points) {
        return Decided::Linearizable;
    }
    // a refusal that finds the key holding the value it expected all
    // through its interval gets a write nobody saw, which may go anywhere
    // in its own interval, moved into the refusal's, after that value's
    // cluster (each such write once, at most `MOVES_MAX` of them);
    let mut moved = vec![false; ops.len()];
    for _ in 0..MOVES_MAX {
        let Err(c) = attempt(&points) else { break };
        if !move_unseen_write(&ops, &clusters, &mut points, c, &mut moved) {
            break;
        }
    }
    if judge(&points) {
        return Decided::Linearizable;
    }
    // and the value a forward zone's write replaced held, in this witness,
    // until just before the zone: a refusal of that value in the gap fits
    // once the write goes as early as it may (after everything placed
    // before it, and after its own invocation).
    if refused.is_empty() {
        return Decided::Unknown;
    }
    let order = in_order(&points);
    for &k in &late_writes {
        let (t, w) = points[k];
        let before = order
            .iter()
            .map(|&(p, _, _)| p)
            .take_while(|&p| p < t)
            .last()
            .unwrap_or(0);
        points[k].0 = (before + 1).max(ops[w].invoked * SCALE + 1);
    }
    if judge(&points) {
        return Decided::Linearizable;
    }
    // Last, a refusal that still finds the key holding the value it
    // expected all through its interval gets a write that others saw
    // later pulled into its interval, the clusters in between moved after
    // that write's cluster; kept only when the refusals then place
    // further than before (so the moves cannot undo each other).
    for _ in 0..MOVES_MAX {
        let Err(c) = attempt(&points) else { break };
        if !pull_seen_write(&ops, &clusters, &mut points, c, &refused, &attempt) {
            break;
        }
    }
    if judge(&points) {
        Decided::Linearizable
    } else {
        Decided::Unknown
    }
}

/// Places the refusals among a witness's points and replays the whole:
/// whether it replays, or the first refusal that found no place.
type Attempt<'a> = dyn Fn(&[(u64, usize)]) -> Result<bool, usize> + 'a;

/// Candidates tried per refusal by [`pull_seen_write`]: each is judged by
/// placing every refusal again.
const PULLS_TRIED_MAX: usize = 4;

/// For refused cas `c`, which finds the key holding the value it expected
/// all through its interval: a plain write placed after that interval,
/// whose readers come later, moved to just after the expected value's
/// cluster inside `c`'s interval (if its own interval allows), and every
/// cluster whose write lies between its new point and its first reader
/// moved, whole, to just after its own cluster (if their completions
/// allow). Kept only if the refusals then place further (`attempt` fails
/// at a later refusal, or none); whether a move was kept.
fn pull_seen_write(
    ops: &[&HistoryOp],
    clusters: &[Cluster],
    points: &mut [(u64, usize)],
    c: usize,
    refused: &[usize],
    attempt: &Attempt<'_>,
) -> bool {
    let Some((lo, hi)) = refusal_window(ops, clusters, points, c) else {
        return false;
    };
    let slot = slots(points, ops.len());
    let slot = |i: usize| slot[i].expect("cluster members are placed");
    let time = |points: &[(u64, usize)], i: usize| points[slot(i)].0;
    let progress = |result: Result<bool, usize>| match result {
        Ok(replayed) => replayed.then_some(usize::MAX),
        Err(failed) => refused.iter().position(|&r| r == failed),
    };
    let before = progress(Err(c));
    // Clusters whose plain write is placed after the interval but could
    // go inside it, nearest first.
    let mut candidates: Vec<&Cluster> = clusters
        .iter()
        .filter(|x| !x.seen_by.is_empty())
        .filter(|x| {
            x.writer.is_some_and(|w| {
                matches!(ops[w].op, LinOp::Write(_))
                    && time(points, w) > hi
                    && ops[w].invoked * SCALE < hi
                    && ops[w].returned.is_none_or(|r| lo < r * SCALE)
            })
        })
        .collect();
    candidates.sort_by_key(|x| x.writer.map(|w| time(points, w)));
    for x in candidates.into_iter().take(PULLS_TRIED_MAX) {
        let w = x.writer.expect("candidates have writers");
        let t = lo.max(ops[w].invoked * SCALE + 1);
        let end_w = ops[w].returned.map_or(u64::MAX, |r| r * SCALE - 1);
        if t > hi.min(end_w) {
            continue;
        }
        let first_seen = x.seen_by.iter().map(|&i| time(points, i)).min();
        let last_seen = x.seen_by.iter().map(|&i| time(points, i)).max();
        let (Some(first_seen), Some(last_seen)) = (first_seen, last_seen) else {
            continue;
        };
        let mut trial = points.to_vec();
        trial[slot(w)].0 = t;
        // Clusters whose write falls between: after x's cluster, whole.
        let mut after = last_seen + 1;
        let mut fits = true;
        for y in clusters {
            let Some(wy) = y.writer else { continue };
            let ty = time(points, wy);
            if wy == w || ty <= t || ty >= first_seen {
                continue;
            }
            for &i in y.writer.iter().chain(&y.seen_by) {
                fits &= ops[i].returned.is_none_or(|r| after < r * SCALE);
                trial[slot(i)].0 = after;
            }
            after += 1;
        }
        if fits && progress(attempt(&trial)) > before {
            points.copy_from_slice(&trial);
            return true;
        }
    }
    false
}

/// The part of refused cas `c`'s interval after the last point of the
/// cluster of the value it expected, in scaled time, if it has one. A
/// value nobody wrote (a `cas` from null) cannot be there, but the key
/// must exist: the part after the initial missing value's cluster.
fn refusal_window(
    ops: &[&HistoryOp],
    clusters: &[Cluster],
    points: &[(u64, usize)],
    c: usize,
) -> Option<(u64, u64)> {
    let LinOp::CasDiffers { from } = &ops[c].op else {
        return None;
    };
    let from = value_key(from);
    let written = |i: usize| match &ops[i].op {
        LinOp::Write(v) | LinOp::Cas { to: v, .. } => Some(value_key(v)),
        _ => None,
    };
    let expected = clusters
        .iter()
        .find(|cluster| cluster.writer.and_then(written) == Some(from.clone()))
        .or(clusters.first())?;
    let slot = slots(points, ops.len());
    let last = expected
        .writer
        .iter()
        .chain(&expected.seen_by)
        .filter_map(|&i| slot[i].map(|k| points[k].0))
        .max()
        .unwrap_or(0);
    let lo = (ops[c].invoked * SCALE + 1).max(last + 1);
    let hi = ops[c].returned.map_or(u64::MAX - 1, |r| r * SCALE - 1);
    Some((lo, hi))
}

/// Unseen writes moved into refusals' intervals, at most, per key: each
/// move places the refusals again.
const MOVES_MAX: usize = 64;

/// Moves a write nobody saw (a cluster of its write alone) into refused
/// cas `c`'s interval, just after the last point of the cluster of the
/// value `c` expected, if both intervals allow. Whether one moved.
fn move_unseen_write(
    ops: &[&HistoryOp],
    clusters: &[Cluster],
    points: &mut [(u64, usize)],
    c: usize,
    moved: &mut [bool],
) -> bool {
    let Some((lo, hi)) = refusal_window(ops, clusters, points, c) else {
        return false;
    };
    let point_of = |points: &[(u64, usize)], i: usize| points.iter().position(|&(_, j)| j == i);
    for cluster in clusters {
        let Some(w) = cluster.writer else { continue };
        let unseen = cluster.seen_by.is_empty() && matches!(ops[w].op, LinOp::Write(_));
        let Some(returned) = ops[w].returned else {
            continue;
        };
        if !unseen || moved[w] {
            continue;
        }
        let t = lo.max(ops[w].invoked * SCALE + 1);
        if t <= hi.min(returned * SCALE - 1) {
            let Some(k) = point_of(points, w) else {
                continue;
            };
            points[k].0 = t;
            moved[w] = true;
            return true;
        }
    }
    false
}

/// Moves each backward zone's cluster (all of it at one moment) that sits
/// strictly inside another cluster's span in the witness (from the
/// earliest of its points to the latest) to just after that span, unless
/// that is past the cluster's earliest completion.
fn move_out_of_spans(
    ops: &[&HistoryOp],
    clusters: &[Cluster],
    zones: &[(u64, u64)],
    points: &mut [(u64, usize)],
) {
    let slot = slots(points, ops.len());
    let slots_of = |cluster: &Cluster| -> Vec<usize> {
        let members = cluster.writer.iter().chain(&cluster.seen_by);
        members.filter_map(|&i| slot[i]).collect()
    };
    // Every cluster spread over more than one moment: forward ones, and
    // backward ones whose write is a cas placed with the cluster before.
    let spans: Vec<(u64, u64)> = clusters
        .iter()
        .filter_map(|cluster| {
            let times = slots_of(cluster).into_iter().map(|k| points[k].0);
            let lo = times.clone().min()?;
            Some((lo, times.max()?)).filter(|&(lo, hi)| lo < hi)
        })
        .collect();
    for (cluster, &(f, s)) in clusters.iter().zip(zones) {
        if f < s || cluster.writer.is_none() {
            continue;
        }
        let members = slots_of(cluster);
        let Some(at) = members.first().map(|&k| points[k].0) else {
            continue;
        };
        if members.iter().any(|&k| points[k].0 != at) {
            continue;
        }
        let mut t = at;
        while let Some(&(_, hi)) = spans.iter().find(|&&(lo, hi)| lo < t && t < hi) {
            t = hi + 1;
        }
        if t != at && t < f * SCALE {
            for &k in &members {
                points[k].0 = t;
            }
        }
    }
}

/// Where each of `ops_len` operations is among `points`, if placed.
fn slots(points: &[(u64, usize)], ops_len: usize) -> Vec<Option<usize>> {
    let mut slot = vec![None; ops_len];
    for (k, &(_, i)) in points.iter().enumerate() {
        slot[i] = Some(k);
    }
    slot
}

/// The points by time (ties keep the order pushed: a writer first, then
/// its readers), each with its place among the pushed.
fn in_order(points: &[(u64, usize)]) -> Vec<(u64, usize, usize)> {
    let mut order: Vec<(u64, usize, usize)> = points
        .iter()
        .enumerate()
        .map(|(pushed, &(t, i))| (t, pushed, i))
        .collect();
    order.sort_unstable();
    order
}

/// The witness's sequence with each refused cas (`CasDiffers`) at a point
/// of its interval where the key held another value than the one it
/// expected; the first that has no such point in the witness, if one.
fn place_refusals(
    ops: &[&HistoryOp],
    order: &[(u64, usize, usize)],
    refused: &[usize],
) -> Result<Vec<usize>, usize> {
    if refused.is_empty() {
        return Ok(order.iter().map(|&(_, _, i)| i).collect());
    }
    // The value after each point of the witness.
    let mut timeline: Vec<(u64, Option<ValueKey>)> = Vec::with_capacity(order.len());
    let mut state: Option<ValueKey> = None;
    for &(t, _, i) in order {
        if let LinOp::Write(v) | LinOp::Cas { to: v, .. } = &ops[i].op {
            state = Some(value_key(v));
        }
        timeline.push((t, state.clone()));
    }
    let state_at = |t: u64| -> Option<ValueKey> {
        let at = timeline.partition_point(|&(p, _)| p <= t);
        at.checked_sub(1).and_then(|k| timeline[k].1.clone())
    };
    let mut inserts: Vec<(u64, usize)> = Vec::new();
    for &c in refused {
        let LinOp::CasDiffers { from } = &ops[c].op else {
            return Err(c);
        };
        let from = Some(value_key(from));
        let lo = ops[c].invoked * SCALE + 1;
        let hi = ops[c].returned.map_or(u64::MAX - 1, |r| r * SCALE - 1);
        // Candidates: its start, then just after each point in its interval.
        let first = timeline.partition_point(|&(p, _)| p < lo);
        let candidates = std::iter::once(lo).chain(
            timeline[first..]
                .iter()
                .take_while(|&&(p, _)| p < hi)
                .map(|&(p, _)| p + 1),
        );
        let t = candidates
            .into_iter()
            .find(|&t| state_at(t).is_some() && state_at(t) != from)
            .ok_or(c)?;
        inserts.push((t, c));
    }
    // Merge: the refusals at their points among the others.
    let mut merged: Vec<(u64, usize, usize)> = order.to_vec();
    merged.extend(inserts.iter().map(|&(t, c)| (t, usize::MAX, c)));
    merged.sort_unstable();
    Ok(merged.into_iter().map(|(_, _, i)| i).collect())
}

/// Whether `sequence` respects real time (nothing placed after an
/// operation that was invoked only after it completed) and the register.
fn replays(ops: &[&HistoryOp], sequence: &[usize]) -> bool {
    let mut invoked_max = 0;
    let mut state: Option<ValueKey> = None;
    for &i in sequence {
        let op = ops[i];
        if op.returned.is_some_and(|r| r < invoked_max) {
            return false;
        }
        invoked_max = invoked_max.max(op.invoked);
        let ok = match &op.op {
            LinOp::Write(v) => {
                state = Some(value_key(v));
                true
            }
            LinOp::Cas {
                from,
                to,
                create_if_not_exists,
            } => {
                let fits = match &state {
                    Some(current) => *current == value_key(from),
                    None => *create_if_not_exists,
                };
                if fits {
                    state = Some(value_key(to));
                }
                fits
            }
            LinOp::CasMissing => state.is_none(),
            LinOp::CasDiffers { from } => state.as_ref().is_some_and(|s| *s != value_key(from)),
            LinOp::Read(seen) => seen.as_ref().map(value_key) == state,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// For reports: the cluster's write (or the initial value).
fn describe(ops: &[&HistoryOp], cluster: &Cluster) -> String {
    let head = match cluster.writer {
        Some(w) => format!("{} {} [{}..]", ops[w].session, ops[w].op, ops[w].invoked),
        None => "the key's missing initial value".to_owned(),
    };
    format!("{head} (seen by {} operations)", cluster.seen_by.len())
}

/// The operations that count and their clusters; `None` if the read
/// mapping is ambiguous or names a value nobody wrote (the search then
/// decides, and explains).
fn clusters_of(all: &[HistoryOp]) -> Option<(Vec<&HistoryOp>, Vec<Cluster>)> {
    // Values some operation that took effect saw: completed reads and cas,
    // and the `from` of an indeterminate cas that took effect (its `to`
    // was seen), to a fixed point.
    let mut observed: BTreeSet<ValueKey> = all
        .iter()
        .filter(|o| o.returned.is_some())
        .filter_map(|o| match &o.op {
            LinOp::Read(Some(v)) | LinOp::Cas { from: v, .. } => Some(value_key(v)),
            _ => None,
        })
        .collect();
    loop {
        let before = observed.len();
        for o in all.iter().filter(|o| o.returned.is_none()) {
            if let LinOp::Cas { from, to, .. } = &o.op {
                if observed.contains(&value_key(to)) {
                    observed.insert(value_key(from));
                }
            }
        }
        if observed.len() == before {
            break;
        }
    }
    let ops: Vec<&HistoryOp> = all
        .iter()
        .filter(|o| match (&o.op, o.returned) {
            (LinOp::Write(v) | LinOp::Cas { to: v, .. }, None) => observed.contains(&value_key(v)),
            _ => true,
        })
        .collect();
    let mut clusters = vec![Cluster {
        writer: None,
        seen_by: Vec::new(),
        swapped_by: None,
    }];
    let mut by_value: BTreeMap<ValueKey, usize> = BTreeMap::new();
    for (i, o) in ops.iter().enumerate() {
        if let LinOp::Write(v) | LinOp::Cas { to: v, .. } = &o.op {
            if by_value.insert(value_key(v), clusters.len()).is_some() {
                return None;
            }
            clusters.push(Cluster {
                writer: Some(i),
                seen_by: Vec::new(),
                swapped_by: None,
            });
        }
    }
    // The key exists for good once any write completed: a cas invoked
    // after that cannot have created it.
    let exists_from = ops
        .iter()
        .filter(|o| matches!(o.op, LinOp::Write(_) | LinOp::Cas { .. }))
        .filter_map(|o| o.returned)
        .min()
        .unwrap_or(u64::MAX);
    for (i, o) in ops.iter().enumerate() {
        let saw = match &o.op {
            LinOp::Write(_) | LinOp::CasDiffers { .. } => continue,
            LinOp::Read(None) | LinOp::CasMissing => 0,
            LinOp::Read(Some(v)) => *by_value.get(&value_key(v))?,
            LinOp::Cas {
                from,
                create_if_not_exists,
                ..
            } => match (by_value.get(&value_key(from)), create_if_not_exists) {
                (Some(&c), false) => c,
                (Some(&c), true) if exists_from < o.invoked => c,
                (None, true) => 0,
                _ => return None,
            },
        };
        if matches!(o.op, LinOp::Cas { .. }) {
            // Two cas cannot both swap the one value there ever was: the
            // search says so, with its own explanation.
            if clusters[saw].swapped_by.replace(i).is_some() {
                return None;
            }
        } else {
            clusters[saw].seen_by.push(i);
        }
    }
    // The swapping cas ends its cluster.
    for cluster in &mut clusters {
        if let Some(c) = cluster.swapped_by {
            cluster.seen_by.push(c);
        }
    }
    Some((ops, clusters))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ryw_core::{Key, Value};

    fn op(session: &str, op: LinOp, invoked: u64, returned: Option<u64>) -> HistoryOp {
        HistoryOp {
            session: session.to_owned(),
            key: Key::Int(0),
            op,
            invoked,
            returned,
        }
    }

    fn w(v: i64) -> LinOp {
        LinOp::Write(Value::from(v))
    }

    fn r(v: i64) -> LinOp {
        LinOp::Read(Some(Value::from(v)))
    }

    fn cas(from: i64, to: i64) -> LinOp {
        LinOp::Cas {
            from: Value::from(from),
            to: Value::from(to),
            create_if_not_exists: false,
        }
    }

    /// Linearizable histories of each shape the witness must place: a
    /// forward zone (a read after its write completed), a swapping cas
    /// with a read invoked after it, backward zones that overlap, and a
    /// refused cas. Each must be decided here, not left to the search.
    #[test]
    fn every_shape_of_a_linearizable_history_is_decided_here() {
        let histories = [
            vec![
                op("a", w(1), 1, Some(3)),
                op("b", r(1), 5, Some(7)),
                op("a", w(2), 9, Some(11)),
                op("b", r(2), 13, Some(15)),
            ],
            vec![
                op("a", w(1), 1, Some(3)),
                op("c", cas(1, 2), 4, Some(30)),
                op("b", r(1), 6, Some(8)),
                op("b", r(2), 31, Some(32)),
            ],
            vec![
                op("a", w(1), 1, Some(10)),
                op("b", w(2), 2, Some(9)),
                op("c", r(2), 3, Some(8)),
            ],
            vec![
                op("a", w(1), 1, Some(3)),
                op(
                    "b",
                    LinOp::CasDiffers {
                        from: Value::from(5),
                    },
                    4,
                    Some(6),
                ),
                op("c", LinOp::Read(None), 0, Some(2)),
            ],
            // A read concurrent with its write, in a forward zone: it goes
            // after the write, which goes just before the first completion.
            vec![
                op("a", w(1), 1, Some(10)),
                op("b", r(1), 2, Some(12)),
                op("c", r(1), 15, Some(17)),
            ],
            // A read invoked late in its cluster goes after a refusal that
            // completed before it was invoked.
            vec![
                op("a", w(1), 1, Some(3)),
                op("b", r(1), 20, Some(22)),
                op(
                    "c",
                    LinOp::CasDiffers {
                        from: Value::from(5),
                    },
                    10,
                    Some(12),
                ),
            ],
            // A write nobody saw (a backward zone at 5) concurrent with a
            // cas chained from 1 to 2 and the reads of 2: it goes after
            // them, not between the cas and the reads.
            vec![
                op("a", w(1), 1, Some(2)),
                op("c", cas(1, 2), 3, Some(6)),
                op("b", r(2), 4, Some(8)),
                op("b", r(2), 12, Some(14)),
                op("d", w(3), 5, Some(20)),
            ],
            // The same inside a backward cluster whose write is the cas
            // that ended the forward zone before it (the cas placed at 5,
            // its read at 8): the unseen write goes after the read.
            vec![
                op("a", w(1), 1, Some(2)),
                op("b", r(1), 3, Some(4)),
                op("c", cas(1, 2), 5, Some(30)),
                op("d", w(3), 6, Some(40)),
                op("b", r(2), 8, Some(9)),
            ],
        ];
        for h in &histories {
            assert_eq!(decide(h), Decided::Linearizable, "{h:#?}");
        }
    }

    /// Each of the three conditions (and 1b) catches what it names, and
    /// the read mapping decides it: the search is not needed to say so.
    #[test]
    fn each_condition_finds_its_violation_here() {
        let cases = [
            // 1: a read completes before the write of its value began.
            (
                vec![op("a", w(1), 5, Some(6)), op("b", r(1), 1, Some(2))],
                "before",
            ),
            // 1b: a read invoked after the cas that swapped its value completed.
            (
                vec![
                    op("a", w(1), 1, Some(2)),
                    op("b", cas(1, 2), 3, Some(4)),
                    op("c", r(1), 5, Some(6)),
                ],
                "swapped",
            ),
            // 2: two forward zones overlap (1 read after 2 was written).
            (
                vec![
                    op("a", w(1), 1, Some(2)),
                    op("b", w(2), 3, Some(4)),
                    op("c", r(1), 7, Some(8)),
                    op("d", r(2), 9, Some(10)),
                ],
                "",
            ),
            // 3: a write that began and ended inside another value's
            // forward zone.
            (
                vec![
                    op("a", w(1), 1, Some(2)),
                    op("b", w(2), 4, Some(6)),
                    op("c", r(1), 9, Some(10)),
                ],
                "",
            ),
        ];
        for (history, says) in &cases {
            match decide(history) {
                Decided::Violation(why) => assert!(why.contains(says), "{why}"),
                other => panic!("{other:?} for {history:#?}"),
            }
        }
    }

    fn differs(from: i64) -> LinOp {
        LinOp::CasDiffers {
            from: Value::from(from),
        }
    }

    /// A refused cas goes at a point of its interval where the key held
    /// another value: not its start when the key held `from` then, nor a
    /// moment the key was missing (a cas refused for a differing value saw
    /// one), but just after the write that changed it.
    #[test]
    fn a_refused_cas_is_placed_where_the_key_held_another_value() {
        let histories = [
            // At its start the key holds 1, what it expected; after the
            // write of 2 (inside its interval) it does not.
            vec![
                op("a", w(1), 1, Some(3)),
                op("b", differs(1), 4, Some(20)),
                op("c", w(2), 10, Some(12)),
            ],
            // At its start the key is missing; after the write of 1 it
            // holds another value than 5.
            vec![op("b", differs(5), 0, Some(10)), op("a", w(1), 2, Some(4))],
            // Not before its start: there the key held 2, but the write of
            // 1 that completed before it began would then come after it.
            vec![
                op("a", w(2), 1, Some(2)),
                op("a", w(1), 5, Some(6)),
                op("b", differs(1), 20, Some(30)),
                op("c", w(3), 22, Some(24)),
            ],
            // Expecting 1 where the witness holds 1 from its write on: the
            // write of 2, which nobody saw and which may go anywhere in its
            // own interval, goes after 1's cluster, inside the refusal's.
            vec![
                op("a", w(1), 1, Some(10)),
                op("b", w(2), 2, Some(30)),
                op("c", r(1), 3, Some(12)),
                op("x", differs(1), 13, Some(20)),
            ],
            // In the gap between the value it expected and the next value's
            // forward zone (20..25): the write of 2, invoked at 5, goes as
            // early as it may, and the refusal after it.
            vec![
                op("a", w(1), 1, Some(2)),
                op("b", r(1), 3, Some(4)),
                op("c", w(2), 5, Some(20)),
                op("x", differs(1), 6, Some(10)),
                op("d", r(2), 18, Some(21)),
                op("e", r(2), 25, Some(26)),
            ],
            // Expecting 1, which the witness holds all through its
            // interval: the write of 2 (timed out; read only after the
            // refusal ended, so its cluster sits at 45) is pulled into
            // the interval, its reader left where it was.
            vec![
                op("a", w(1), 0, Some(10)),
                op("b", r(1), 5, Some(20)),
                op("x", differs(1), 21, Some(40)),
                op("d", w(2), 15, None),
                op("e", r(2), 45, Some(60)),
            ],
            // The same with the cluster of 3 (at 42, in the witness, after
            // the refusal) between the pulled write and its reader: that
            // cluster moves after the reader of 2, which its completions
            // allow.
            vec![
                op("a", w(1), 0, Some(10)),
                op("b", r(1), 5, Some(20)),
                op("x", differs(1), 21, Some(40)),
                op("d", w(2), 15, None),
                op("e", r(2), 45, Some(60)),
                op("f", w(3), 41, Some(50)),
                op("g", r(3), 42, Some(55)),
            ],
            // Refused from null (the key held some value): no cluster
            // writes null, so the write of 2 is pulled in after the last
            // read of the missing key.
            vec![
                op("a", LinOp::Read(None), 0, Some(30)),
                op("x", LinOp::CasDiffers { from: Value::NULL }, 10, Some(35)),
                op("d", w(2), 5, None),
                op("e", r(2), 40, Some(50)),
            ],
        ];
        for h in &histories {
            assert_eq!(decide(h), Decided::Linearizable, "{h:#?}");
        }
    }

    fn create(from: i64, to: i64) -> LinOp {
        LinOp::Cas {
            from: Value::from(from),
            to: Value::from(to),
            create_if_not_exists: true,
        }
    }

    /// A cas that may create the key: one whose `from` nobody wrote
    /// created it (it saw the missing value); one invoked after a write
    /// completed found the key there and swapped the value it expected.
    /// Both are decided here.
    #[test]
    fn a_cas_that_may_create_the_key_is_decided_here() {
        let histories = [
            vec![op("a", create(7, 1), 1, Some(3)), op("b", r(1), 4, Some(5))],
            vec![
                op("a", w(1), 1, Some(2)),
                op("b", create(1, 2), 3, Some(4)),
                op("c", r(2), 5, Some(6)),
            ],
        ];
        for h in &histories {
            assert_eq!(decide(h), Decided::Linearizable, "{h:#?}");
        }
    }

    /// The witness is checked, not trusted: an order that puts an operation
    /// before one that completed before it was invoked does not replay,
    /// even when the register would accept it.
    #[test]
    fn a_witness_that_breaks_real_time_does_not_replay() {
        let history = [op("a", w(1), 1, Some(2)), op("b", w(2), 3, Some(4))];
        let ops: Vec<&HistoryOp> = history.iter().collect();
        assert!(replays(&ops, &[0, 1]));
        assert!(!replays(&ops, &[1, 0]));
    }

    /// The pull repair's shape where the cluster in between cannot move
    /// (the write of 3 completed before the reader of 2 began): no order
    /// exists, and the read mapping does not pass it; the search finds
    /// the violation.
    #[test]
    fn a_pull_that_would_move_a_cluster_past_its_completion_passes_nothing() {
        let history = [
            op("a", w(1), 0, Some(10)),
            op("b", r(1), 5, Some(20)),
            op("x", differs(1), 21, Some(40)),
            op("d", w(2), 15, None),
            op("e", r(2), 45, Some(60)),
            op("f", w(3), 41, Some(44)),
            op("g", r(3), 42, Some(44)),
        ];
        assert_eq!(decide(&history), Decided::Unknown);
        assert!(matches!(
            super::super::linearizability::check_key(&history),
            super::super::linearizability::Verdict::Violation(_)
        ));
    }
}
