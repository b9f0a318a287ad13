//! Linearizability of the lin-kv operations (`read`, `write`, `cas`), per key.
//!
//! First by the read mapping (`read_mapping.rs`) when every value is
//! written once, in polynomial time; otherwise, or where that cannot
//! decide, Wing & Gong's search with Lowe's memoisation: depth-first over which
//! pending operation takes effect next, remembering every (set of operations
//! linearized, register state) already explored. Indeterminate operations
//! (timed out, error 0) may take effect at any point after their invocation,
//! or never; definite failures never took effect and are left out, except a
//! refused `cas`, which still observed the register.

use std::collections::{BTreeMap, BTreeSet};

use ryw_core::{ClientOp, ErrorCode, Key, OpResult, Value};

pub use super::lin_ops::{HistoryOp, LinOp};
use super::oracle::{value_key, ValueKey};
use super::{Checker, Finish, Property, Reply, Verdict as Findings, Violation};

/// Most (linearized set, state) pairs explored per key before giving up.
pub const STATES_MAX: usize = 300_000;

pub enum Verdict {
    Linearizable,
    /// Too many interleavings to decide within `STATES_MAX`.
    Undecided,
    Violation(String),
}

/// Register states are small integers: each distinct value gets one.
type State = Option<u32>;

/// The state after a write of a value nothing ever observed: no read
/// returned it and no cas expected it, so no operation can tell one such
/// value from another.
const UNOBSERVED: State = Some(u32::MAX);

struct Interned {
    ids: BTreeMap<ValueKey, u32>,
}

impl Interned {
    fn id(&mut self, value: &Value) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(value_key(value)).or_insert(next)
    }
}

enum Step {
    Write(u32),
    Cas { from: u32, to: u32, create: bool },
    CasMissing,
    CasDiffers { from: u32 },
    Read(State),
}

impl Step {
    /// Whether the operation only looks at the register (a read, a refused
    /// cas). Such operations always completed: they are never indeterminate.
    fn observes(&self) -> bool {
        matches!(
            self,
            Step::Read(_) | Step::CasMissing | Step::CasDiffers { .. }
        )
    }

    /// The state after this operation takes effect in `state`, if it can.
    fn apply(&self, state: State) -> Option<State> {
        match *self {
            Step::Write(v) => Some(Some(v)),
            Step::Cas { from, to, create } => match state {
                Some(current) if current == from => Some(Some(to)),
                None if create => Some(Some(to)),
                _ => None,
            },
            Step::CasMissing => state.is_none().then_some(None),
            Step::CasDiffers { from } => match state {
                Some(current) if current != from => Some(state),
                _ => None,
            },
            Step::Read(seen) => (seen == state).then_some(state),
        }
    }
}

/// Values some operation observed: read, or expected by a cas (refused or not).
fn observed_values(ops: &[HistoryOp]) -> BTreeSet<ValueKey> {
    ops.iter()
        .filter_map(|op| match &op.op {
            LinOp::Read(Some(v)) | LinOp::Cas { from: v, .. } | LinOp::CasDiffers { from: v } => {
                Some(value_key(v))
            }
            _ => None,
        })
        .collect()
}

/// A set of operations already linearized, by index in invocation order.
///
/// Searches linearize roughly in invocation order, so the set is kept as a
/// prefix ("every index below `prefix`") plus two short exception lists:
/// linearized operations above the prefix, and indeterminate operations
/// below it that have not taken effect (yet, or ever). The prefix runs past
/// an indeterminate operation, which may never take effect; without that,
/// one early timeout would pin the prefix and make the set, and every
/// comparison of it, as long as the history. The form is canonical (one set,
/// one representation), so memoisation on it is exact.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Done {
    prefix: usize,
    /// Sorted; linearized, every entry at or above `prefix`.
    beyond: Vec<usize>,
    /// Sorted; indeterminate, not linearized, every entry below `prefix`.
    skipped: Vec<usize>,
}

impl Done {
    /// The empty set.
    fn empty(indeterminate: &[bool]) -> Done {
        let mut done = Done::default();
        done.run_prefix_on(indeterminate);
        done
    }

    /// The operations not in the set, in invocation order: the skipped
    /// ones, then those from the prefix on.
    fn missing(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        let above = (self.prefix..n).filter(|i| self.beyond.binary_search(i).is_err());
        self.skipped.iter().copied().chain(above)
    }

    /// This set and `i`; `indeterminate[j]` says whether operation j may
    /// never take effect.
    fn with(&self, i: usize, indeterminate: &[bool]) -> Done {
        let mut next = self.clone();
        if i < next.prefix {
            if let Ok(at) = next.skipped.binary_search(&i) {
                next.skipped.remove(at);
            }
        } else if let Err(at) = next.beyond.binary_search(&i) {
            next.beyond.insert(at, i);
            next.run_prefix_on(indeterminate);
        }
        next
    }

    /// Moves the prefix over linearized and indeterminate operations, which
    /// keeps the form canonical.
    fn run_prefix_on(&mut self, indeterminate: &[bool]) {
        let mut taken = 0;
        while self.prefix < indeterminate.len() {
            if self.beyond.get(taken) == Some(&self.prefix) {
                taken += 1;
            } else if indeterminate[self.prefix] {
                self.skipped.push(self.prefix);
            } else {
                break;
            }
            self.prefix += 1;
        }
        self.beyond.drain(..taken);
    }
}

/// Checks the operations on one key: by the read mapping when every value
/// is written once (`read_mapping.rs`, polynomial), by the search when that
/// cannot decide.
pub fn check_key(ops: &[HistoryOp]) -> Verdict {
    mapped_verdict(ops).unwrap_or_else(|| search_key(ops))
}

/// The read mapping's verdict on one key's operations (values written
/// once: polynomial time), or `None` where only the search can decide.
fn mapped_verdict(ops: &[HistoryOp]) -> Option<Verdict> {
    match super::read_mapping::decide(ops) {
        super::read_mapping::Decided::Linearizable => Some(Verdict::Linearizable),
        super::read_mapping::Decided::Violation(why) => {
            let key = &ops[0].key;
            Some(Verdict::Violation(format!(
                "no linearization of the {} operations on key {key}: {why}",
                ops.len()
            )))
        }
        super::read_mapping::Decided::Unknown => None,
    }
}

/// Checks the operations on one key by the search alone (Wing & Gong
/// with Lowe's memoisation).
///
/// Writes that may or may not have happened (timed out) and whose value
/// nothing observed are interchangeable: each can only move the register
/// to a value no read or cas can match (`UNOBSERVED`). They are searched
/// as a count ("how many used so far") rather than one by one, which turns
/// 2^k combinations of k such writes into k + 1.
///
/// (Longer than 70 lines on purpose: the search loop is one piece, whose
/// steps share the stack, the seen set and its budget.)
pub fn search_key(ops: &[HistoryOp]) -> Verdict {
    let observed = observed_values(ops);
    let blind = |op: &&HistoryOp| {
        op.returned.is_none()
            && matches!(&op.op, LinOp::Write(v) if !observed.contains(&value_key(v)))
    };
    let mut blind_invoked: Vec<u64> = ops.iter().filter(blind).map(|o| o.invoked).collect();
    blind_invoked.sort_unstable();
    let mut ops: Vec<&HistoryOp> = ops.iter().filter(|op| !blind(op)).collect();
    if ops.is_empty() {
        return Verdict::Linearizable;
    }
    ops.sort_by_key(|o| o.invoked);
    let steps = steps_of(&ops);
    let n = ops.len();
    let indeterminate: Vec<bool> = ops.iter().map(|o| o.returned.is_none()).collect();
    let must = n - indeterminate.iter().filter(|&&maybe| maybe).count();
    // (linearized set, state, blind writes used)
    let mut seen: BTreeSet<(Done, State, usize)> = BTreeSet::new();
    // Depth-first: (linearized set, state, blind writes used, how many
    // determinate ops are in the set).
    let mut stack: Vec<(Done, State, usize, usize)> =
        vec![(Done::empty(&indeterminate), None, 0, 0)];
    let mut deepest = 0;
    let mut candidates: Vec<(usize, State)> = Vec::new();
    while let Some((done, state, blind_used, determinate)) = stack.pop() {
        if determinate == must {
            return Verdict::Linearizable;
        }
        deepest = deepest.max(determinate);
        // The operations not yet linearized, in invocation order.
        let pending = || done.missing(n);
        // An op can go next only if it was invoked before every pending op
        // returned. (Ops are sorted by invocation and return after it, so
        // the scan stops at the first invoked after the smallest return.)
        let mut horizon = u64::MAX;
        for i in pending() {
            if ops[i].invoked > horizon {
                break;
            }
            if let Some(returned) = ops[i].returned {
                horizon = horizon.min(returned);
            }
        }
        let ready = || pending().take_while(|&i| ops[i].invoked <= horizon);
        // An operation that may go now, leaves the register as it is and
        // fits it (a read of the current value, a cas refused as this state
        // says) can go first without losing any linearization: moving an
        // observer earlier, to a moment the register holds what it saw,
        // breaks no order between operations. So take it, and do not branch.
        let observer =
            ready().find(|&i| steps[i].observes() && steps[i].apply(state) == Some(state));
        // Queues a state not seen before; false once the budget is spent.
        let mut visit = |node: (Done, State, usize, usize)| -> bool {
            if seen.insert((node.0.clone(), node.1, node.2)) {
                stack.push(node);
            }
            seen.len() <= STATES_MAX
        };
        let counts = |i: usize| usize::from(ops[i].returned.is_some());
        if let Some(i) = observer {
            if !visit((
                done.with(i, &indeterminate),
                state,
                blind_used,
                determinate + counts(i),
            )) {
                return Verdict::Undecided;
            }
            continue;
        }
        // One more blind write, if one was invoked in time and is unused.
        let blind_ready = blind_invoked.partition_point(|&t| t <= horizon);
        if blind_used < blind_ready
            && state != UNOBSERVED
            && !visit((done.clone(), UNOBSERVED, blind_used + 1, determinate))
        {
            return Verdict::Undecided;
        }
        // The stack is last in, first out: push the operation that returned
        // last first, so the one that returned first is tried first. A
        // store's operations take effect between invocation and reply, so
        // reply order is the best guess at their order, and a correct
        // history is then mostly found without backtracking.
        candidates.clear();
        candidates.extend(ready().filter_map(|i| Some((i, steps[i].apply(state)?))));
        candidates.sort_by_key(|&(i, _)| std::cmp::Reverse(ops[i].returned.unwrap_or(u64::MAX)));
        for &(i, next_state) in &candidates {
            if !visit((
                done.with(i, &indeterminate),
                next_state,
                blind_used,
                determinate + counts(i),
            )) {
                return Verdict::Undecided;
            }
        }
    }
    Verdict::Violation(no_linearization(&ops, deepest, must))
}

/// The operations as register steps, their values interned to small ids.
fn steps_of(ops: &[&HistoryOp]) -> Vec<Step> {
    let mut interned = Interned {
        ids: BTreeMap::new(),
    };
    ops.iter()
        .map(|o| match &o.op {
            LinOp::Write(v) => Step::Write(interned.id(v)),
            LinOp::Cas {
                from,
                to,
                create_if_not_exists,
            } => Step::Cas {
                from: interned.id(from),
                to: interned.id(to),
                create: *create_if_not_exists,
            },
            LinOp::CasMissing => Step::CasMissing,
            LinOp::CasDiffers { from } => Step::CasDiffers {
                from: interned.id(from),
            },
            LinOp::Read(seen) => Step::Read(seen.as_ref().map(|v| interned.id(v))),
        })
        .collect()
}

/// What a history no order explains says: how far the search got, and
/// the completed operations around there.
fn no_linearization(ops: &[&HistoryOp], deepest: usize, must: usize) -> String {
    let key = &ops[0].key;
    let stuck: Vec<String> = ops
        .iter()
        .filter(|o| o.returned.is_some())
        .skip(deepest.saturating_sub(2))
        .take(4)
        .map(|o| {
            format!(
                "{} {} [{}..{}]",
                o.session,
                o.op,
                o.invoked,
                o.returned.unwrap_or(u64::MAX)
            )
        })
        .collect();
    format!(
        "no linearization of the {} operations on key {key}: at most {deepest} of {must} completed ones can be ordered; around there: {}",
        ops.len(),
        stuck.join("; ")
    )
}

/// What checking a whole history found.
#[derive(Debug, Default)]
pub struct Checked {
    pub violations: Vec<String>,
    /// Keys the search could not decide within its budget.
    pub undecided: usize,
    /// Keys the read mapping could not decide, which went to the search
    /// (decided there or not): how often the polynomial path falls short.
    pub searched: usize,
}

/// Checks a whole history, key by key.
pub fn check(history: &[HistoryOp]) -> Checked {
    let mut by_key: BTreeMap<&Key, Vec<HistoryOp>> = BTreeMap::new();
    for op in history {
        by_key.entry(&op.key).or_default().push(op.clone());
    }
    let mut checked = Checked::default();
    for ops in by_key.values() {
        let verdict = match mapped_verdict(ops) {
            Some(verdict) => verdict,
            None => {
                checked.searched += 1;
                search_key(ops)
            }
        };
        match verdict {
            Verdict::Linearizable => {}
            Verdict::Undecided => checked.undecided += 1,
            Verdict::Violation(why) => checked.violations.push(why),
        }
    }
    checked
}

/// The lin-kv history of a run, checked at its end.
#[derive(Default)]
pub struct History {
    ops: Vec<HistoryOp>,
}

/// What a lin-kv request did, as far as its client knows; `None` for a
/// request that took no effect (a definite failure) or is no lin-kv
/// operation (`ryw_read`).
fn lin_op(op: &ClientOp, result: Option<&OpResult>) -> Option<LinOp> {
    Some(match (op, result) {
        (ClientOp::Write { value, .. }, Some(OpResult::WriteOk { .. }) | None) => {
            LinOp::Write(value.clone())
        }
        (
            ClientOp::Cas {
                from,
                to,
                create_if_not_exists,
                ..
            },
            Some(OpResult::CasOk { .. }) | None,
        ) => LinOp::Cas {
            from: from.clone(),
            to: to.clone(),
            create_if_not_exists: *create_if_not_exists,
        },
        (ClientOp::Cas { .. }, Some(OpResult::Error { code, .. }))
            if *code == ErrorCode::KEY_DOES_NOT_EXIST =>
        {
            LinOp::CasMissing
        }
        (ClientOp::Cas { from, .. }, Some(OpResult::Error { code, .. }))
            if *code == ErrorCode::PRECONDITION_FAILED =>
        {
            LinOp::CasDiffers { from: from.clone() }
        }
        (ClientOp::Read { .. }, Some(OpResult::ReadOk { value })) => {
            LinOp::Read(Some(value.clone()))
        }
        (ClientOp::Read { .. }, Some(OpResult::Error { code, .. }))
            if *code == ErrorCode::KEY_DOES_NOT_EXIST =>
        {
            LinOp::Read(None)
        }
        // An indeterminate error: it may or may not have taken effect.
        (ClientOp::Write { .. } | ClientOp::Cas { .. }, Some(OpResult::Error { code, .. }))
            if !code.is_definite() =>
        {
            return lin_op(op, None);
        }
        // Definite failures took no effect; ryw_read is not a lin-kv operation.
        _ => return None,
    })
}

impl Checker for History {
    fn on_reply(&mut self, reply: &Reply<'_>) {
        let request = reply.request;
        let Some(op) = lin_op(&request.op, reply.result) else {
            return;
        };
        // An indeterminate answer is no answer: the operation may take
        // effect at any later time.
        let indeterminate = matches!(
            reply.result,
            Some(OpResult::Error { code, .. }) if !code.is_definite()
        );
        self.ops.push(HistoryOp {
            session: reply.session.client.to_string(),
            key: request.op.key().clone(),
            op,
            invoked: request.invoked,
            returned: if indeterminate { None } else { reply.returned },
        });
    }

    fn finish(&mut self, finish: &Finish<'_>, verdict: &mut Findings) {
        let checked = check(&self.ops);
        for detail in checked.violations {
            let violation = Violation::new(Property::Linearizability, finish.end_ms, None, detail);
            verdict.violations.push(violation);
        }
        verdict.undecided_keys += checked.undecided;
        verdict.searched_keys += checked.searched;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each reply tells the checker: an indeterminate error keeps a
    /// write or cas as may-have-happened, a definite one drops it, and a
    /// refused cas or a read of a missing key still observed the key.
    #[test]
    fn each_reply_becomes_what_its_client_knows() {
        use crate::checkers::fixtures::{cas_op, write_op};
        let key = Key::Int(0);
        let (write, cas) = (write_op(7), cas_op(1, 2));
        let read = ClientOp::Read { key: key.clone() };
        let error = |code| OpResult::error(code, "x");
        let swapped = LinOp::Cas {
            from: 1.into(),
            to: 2.into(),
            create_if_not_exists: false,
        };
        let cases = [
            (
                &write,
                Some(OpResult::WriteOk { commit_index: 3 }),
                Some(w(7)),
            ),
            (&write, None, Some(w(7))),
            (&write, Some(error(ErrorCode::TIMEOUT)), Some(w(7))),
            (
                &write,
                Some(error(ErrorCode::TEMPORARILY_UNAVAILABLE)),
                None,
            ),
            (
                &cas,
                Some(OpResult::CasOk { commit_index: 3 }),
                Some(swapped.clone()),
            ),
            (&cas, Some(error(ErrorCode::TIMEOUT)), Some(swapped)),
            (
                &cas,
                Some(error(ErrorCode::KEY_DOES_NOT_EXIST)),
                Some(LinOp::CasMissing),
            ),
            (
                &cas,
                Some(error(ErrorCode::PRECONDITION_FAILED)),
                Some(LinOp::CasDiffers { from: 1.into() }),
            ),
            (&cas, Some(error(ErrorCode::TEMPORARILY_UNAVAILABLE)), None),
            (
                &read,
                Some(OpResult::ReadOk { value: 5.into() }),
                Some(r(Some(5))),
            ),
            (
                &read,
                Some(error(ErrorCode::KEY_DOES_NOT_EXIST)),
                Some(r(None)),
            ),
            (&read, Some(error(ErrorCode::TEMPORARILY_UNAVAILABLE)), None),
            (&read, Some(error(ErrorCode::PRECONDITION_FAILED)), None),
        ];
        for (op, result, expected) in cases {
            assert_eq!(
                lin_op(op, result.as_ref()),
                expected,
                "{op:?} answered {result:?}"
            );
        }
    }

    /// A key the read mapping cannot take (a read of a value nobody wrote)
    /// and the search cannot finish (20 concurrent writes, in every order,
    /// before the read) is counted as undecided, key by key.
    #[test]
    fn keys_past_the_search_budget_are_counted_undecided() {
        let mut tangled = Vec::new();
        for key in 0..2 {
            for s in 0..20 {
                let mut o = op(&format!("c{s}"), w(s), s as u64, Some(100 + s as u64));
                o.key = Key::Int(key);
                tangled.push(o);
            }
            let mut o = op("r", r(Some(99)), 200, Some(201));
            o.key = Key::Int(key);
            tangled.push(o);
        }
        let checked = check(&tangled);
        assert!(checked.violations.is_empty(), "{:?}", checked.violations);
        assert_eq!(checked.undecided, 2);
        assert_eq!(checked.searched, 2, "only the search could fail to decide");
        // The run's verdict adds them to what other checkers found.
        let mut history = History { ops: tangled };
        let summary = crate::report::Summary::default();
        let oracle = super::super::oracle::CommittedLog::default();
        let finish = Finish {
            end_ms: 1_000,
            summary: &summary,
            oracle: &oracle,
        };
        let mut verdict = Findings {
            undecided_keys: 1,
            searched_keys: 1,
            ..Findings::default()
        };
        history.finish(&finish, &mut verdict);
        assert_eq!(verdict.undecided_keys, 3);
        assert_eq!(verdict.searched_keys, 3);
        assert!(verdict.violations.is_empty());
    }

    #[test]
    fn operations_read_as_plain_words_in_reports() {
        let shown: Vec<String> = [
            LinOp::Write(Value::from(128)),
            LinOp::Read(Some(Value::from(128))),
            LinOp::Read(None),
            LinOp::Cas {
                from: Value::from(1),
                to: Value::from(2),
                create_if_not_exists: false,
            },
            LinOp::CasMissing,
            LinOp::CasDiffers {
                from: Value::from(1),
            },
        ]
        .iter()
        .map(LinOp::to_string)
        .collect();
        assert_eq!(
            shown,
            [
                "write 128",
                "read 128",
                "read (no key)",
                "cas 1 -> 2",
                "cas refused: no key",
                "cas refused: value is not 1"
            ]
        );
    }

    fn op(session: &str, op: LinOp, invoked: u64, returned: Option<u64>) -> HistoryOp {
        HistoryOp {
            session: session.into(),
            key: Key::Int(0),
            op,
            invoked,
            returned,
        }
    }

    fn w(v: i64) -> LinOp {
        LinOp::Write(v.into())
    }

    fn r(v: Option<i64>) -> LinOp {
        LinOp::Read(v.map(Value::from))
    }

    /// The verdict of the checker, which the search alone must share: the
    /// read mapping decides most of these histories first, and the search
    /// is what the others get.
    fn linearizable(history: &[HistoryOp]) -> bool {
        let verdict = |v: Verdict| match v {
            Verdict::Linearizable => true,
            Verdict::Violation(_) => false,
            Verdict::Undecided => panic!("undecided"),
        };
        let checked = verdict(check_key(history));
        assert_eq!(
            verdict(search_key(history)),
            checked,
            "the search disagrees"
        );
        checked
    }

    /// Sixty timed-out writes nobody read, among reads and writes that
    /// did complete: 2^60 subsets by brute force, 61 counts here.
    fn with_blind_writes(stale: bool) -> Vec<HistoryOp> {
        let mut h = Vec::new();
        let mut t = 0;
        for k in 0..60 {
            h.push(op("c9", w(1_000 + k), t, None));
            h.push(op("c1", w(k), t + 1, Some(t + 2)));
            let seen = if stale && k == 59 { k - 1 } else { k };
            h.push(op("c2", r(Some(seen)), t + 3, Some(t + 4)));
            t += 5;
        }
        h
    }

    #[test]
    fn blind_writes_are_searched_as_a_count() {
        assert!(linearizable(&with_blind_writes(false)));
        assert!(
            !linearizable(&with_blind_writes(true)),
            "a stale read stays a violation: no blind write can explain it"
        );
    }

    #[test]
    fn a_blind_write_can_explain_a_refused_cas() {
        // The cas expected 1 and was refused: some write the client never
        // saw acknowledged must have taken effect in between.
        let h = [
            op("c1", w(1), 1, Some(2)),
            op("c9", w(7), 3, None),
            op("c2", LinOp::CasDiffers { from: 1.into() }, 4, Some(5)),
        ];
        assert!(linearizable(&h));
        let without = [h[0].clone(), h[2].clone()];
        assert!(!linearizable(&without));
        // One blind write explains one refusal, not two: after 1 is written
        // again, nothing is left to move the register off it.
        let twice = [
            h[0].clone(),
            h[1].clone(),
            h[2].clone(),
            op("c3", w(1), 6, Some(7)),
            op("c4", LinOp::CasDiffers { from: 1.into() }, 8, Some(9)),
        ];
        assert!(!linearizable(&twice));
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = [op("c1", w(1), 1, Some(2)), op("c1", r(Some(1)), 3, Some(4))];
        assert!(linearizable(&h));
    }

    #[test]
    fn stale_read_after_a_completed_write_is_not() {
        let h = [
            op("c1", w(1), 1, Some(2)),
            op("c1", w(2), 3, Some(4)),
            op("c2", r(Some(1)), 5, Some(6)),
        ];
        assert!(!linearizable(&h));
        // Both explain themselves: the key, and what could not be ordered.
        let Verdict::Violation(searched) = search_key(&h) else {
            panic!("a violation")
        };
        assert!(
            searched.starts_with("no linearization of the 3 operations on key 0: at most")
                && searched.contains("c2 read 1 [5..6]"),
            "{searched}"
        );
        let Verdict::Violation(mapped) = check_key(&h) else {
            panic!("a violation")
        };
        assert!(
            mapped.starts_with("no linearization of the 3 operations on key 0: ")
                && mapped.contains("write 1"),
            "{mapped}"
        );
    }

    #[test]
    fn concurrent_write_may_be_seen_or_not() {
        // Herlihy & Wing's register example: a read overlapping a write may return either value.
        for seen in [Some(1), Some(2)] {
            let h = [
                op("c1", w(1), 1, Some(2)),
                op("c1", w(2), 3, Some(8)),
                op("c2", r(seen), 4, Some(5)),
            ];
            assert!(linearizable(&h), "read {seen:?}");
        }
    }

    #[test]
    fn reads_cannot_go_back_in_time_between_sessions() {
        // A new-old inversion: c2 sees 2, then c3 (starting after c2 returned) sees 1.
        let h = [
            op("c1", w(1), 1, Some(2)),
            op("c1", w(2), 3, Some(20)),
            op("c2", r(Some(2)), 4, Some(5)),
            op("c3", r(Some(1)), 6, Some(7)),
        ];
        assert!(!linearizable(&h));
    }

    #[test]
    fn indeterminate_write_may_take_effect_late_or_never() {
        let took_effect = [
            op("c1", w(1), 1, Some(2)),
            op("c2", w(2), 3, None),
            op("c1", r(Some(1)), 4, Some(5)),
            op("c1", r(Some(2)), 10, Some(11)),
        ];
        assert!(linearizable(&took_effect));
        let never = [op("c2", w(2), 3, None), op("c1", r(None), 10, Some(11))];
        assert!(linearizable(&never));
        // But it cannot take effect before it was invoked.
        let too_early = [op("c1", r(Some(2)), 1, Some(2)), op("c2", w(2), 3, None)];
        assert!(!linearizable(&too_early));
    }

    #[test]
    fn cas_checks_the_current_value() {
        let cas = |from: i64, to: i64| LinOp::Cas {
            from: from.into(),
            to: to.into(),
            create_if_not_exists: false,
        };
        let ok = [
            op("c1", w(1), 1, Some(2)),
            op("c1", cas(1, 3), 3, Some(4)),
            op("c1", r(Some(3)), 5, Some(6)),
        ];
        assert!(linearizable(&ok));
        let wrong = [op("c1", w(1), 1, Some(2)), op("c1", cas(2, 3), 3, Some(4))];
        assert!(!linearizable(&wrong));
        let refused = [
            op("c1", w(1), 1, Some(2)),
            op("c1", LinOp::CasDiffers { from: 2.into() }, 3, Some(4)),
            op("c1", LinOp::CasMissing, 5, Some(6)),
        ];
        assert!(
            !linearizable(&refused),
            "the key exists, so 'missing' is a lie"
        );
    }

    /// `sessions` sessions in rounds: each writes a distinct value, the
    /// writes overlap, and each round ends with a read of the last write.
    /// An early write times out, and a read at the very end sees
    /// `last_read`: -1 is that early write's value, which keeps it a
    /// candidate for the whole history.
    fn crowded_history(sessions: u64, rounds: u64, last_read: i64) -> Vec<HistoryOp> {
        let mut h = vec![op("c0", w(-1), 0, None)];
        let mut t = 1;
        for round in 0..rounds {
            for s in 0..sessions {
                let value = (round * sessions + s) as i64;
                // Replies come back in an order unrelated to invocation.
                let reply_after = 3 * sessions + (s * 7) % sessions;
                h.push(op(&format!("c{s}"), w(value), t + s, Some(t + reply_after)));
            }
            t += 4 * sessions;
            let last = ((round + 1) * sessions - 1) as i64;
            h.push(op("r", r(Some(last)), t, Some(t + 1)));
            t += 2;
        }
        h.push(op("r", w(-2), t, Some(t + 1)));
        h.push(op("r", r(Some(last_read)), t + 2, Some(t + 3)));
        h
    }

    #[test]
    fn an_early_timeout_and_many_sessions_stay_within_the_budget() {
        // Before the canonical set with skipped timeouts and the search in
        // reply order, 44 sessions on 3 keys took 47 s and 300,000 states.
        let h = crowded_history(44, 40, -1);
        assert!(h.len() > 1_700);
        assert!(
            linearizable(&h),
            "the early timed-out write took effect last"
        );
        // Proving a violation means trying every order of every round
        // (2^sessions subsets each), so fewer sessions here.
        let stale = crowded_history(8, 40, 5);
        assert!(
            !linearizable(&stale),
            "a value from the first round, read last"
        );
    }

    /// Where the search decides, the read mapping decides the same; and
    /// it decides where the search gives up.
    #[test]
    fn the_read_mapping_agrees_with_the_search_and_decides_where_it_gives_up() {
        use crate::checkers::read_mapping::{decide, Decided};
        for (sessions, rounds) in [(4, 10), (8, 20), (16, 8)] {
            for last_read in [-2, 3] {
                let h = crowded_history(sessions, rounds, last_read);
                let fast = decide(&h);
                assert_ne!(fast, Decided::Unknown, "{sessions} sessions: undecided");
                match search_key(&h) {
                    Verdict::Linearizable => assert_eq!(fast, Decided::Linearizable),
                    Verdict::Violation(_) => assert!(matches!(fast, Decided::Violation(_))),
                    Verdict::Undecided => {}
                }
                // Only the last read, of the newest write or of a stale one, decides.
                assert_eq!(fast == Decided::Linearizable, last_read == -2);
            }
        }
        // 32 sessions, every value written once, replies in scrambled order:
        // the search's budget is no bound here.
        let h = crowded_history(32, 30, 5);
        assert!(matches!(decide(&h), Decided::Violation(_)));
        assert!(matches!(check_key(&h), Verdict::Violation(_)));
    }

    #[test]
    fn many_concurrent_sessions_are_decided_quickly() {
        // 8 sessions, 40 rounds of overlapping writes and reads that see the latest.
        let mut h = Vec::new();
        let mut t = 0;
        for round in 0..40i64 {
            for s in 0..8 {
                h.push(op(
                    &format!("c{s}"),
                    w(round * 8 + s),
                    t + s as u64,
                    Some(t + 20 + s as u64),
                ));
            }
            t += 40;
            h.push(op("c9", r(Some(round * 8 + 7)), t, Some(t + 1)));
            t += 2;
        }
        assert!(linearizable(&h));
    }
}
