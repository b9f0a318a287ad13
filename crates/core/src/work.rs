//! Units of work a step did on this thread (entries looked up, waiting
//! reads looked at), for tests that bound the work of a step by counting
//! rather than timing it. Only in test builds: the product pays nothing.

use std::cell::Cell;

thread_local! {
    static WORK: Cell<u64> = const { Cell::new(0) };
}

pub(crate) fn count() {
    WORK.with(|n| n.set(n.get() + 1));
}

/// Units counted since the last call.
pub(crate) fn take() -> u64 {
    WORK.with(|n| n.replace(0))
}
