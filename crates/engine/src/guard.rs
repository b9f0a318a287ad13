//! Panics inside a run are findings, not crashes of the tool: a node's own
//! invariant assertion, or a harness's, fires at some simulated time, and
//! the caller gets that time, the message and where it was raised.

use std::cell::{Cell, RefCell};

thread_local! {
    /// Simulated time of the run going on on this thread, if any.
    static RUN_NOW_MS: Cell<Option<u64>> = const { Cell::new(None) };
    /// Where the last panic inside a run was raised.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A run that panicked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panicked {
    /// The simulated time of the panic.
    pub at_ms: u64,
    /// The panic's message and, when known, `(at file:line:column)`.
    pub message: String,
}

/// Keeps the simulated time the panic report gives.
pub(crate) fn set_now(now_ms: u64) {
    RUN_NOW_MS.with(|now| now.set(Some(now_ms)));
}

/// Panics inside a run become findings, so the default hook's message and
/// backtrace would only be noise; panics anywhere else print as usual.
fn quiet_panics_inside_runs() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if RUN_NOW_MS.with(|now| now.get()).is_some() {
                let location = info.location().map(|l| l.to_string());
                PANIC_LOCATION.with(|l| *l.borrow_mut() = location);
            } else {
                default(info);
            }
        }));
    });
}

/// Runs `f` (one simulation run) and turns a panic inside it into a
/// [`Panicked`] at the simulated time it happened.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    quiet_panics_inside_runs();
    set_now(0);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let at_ms = RUN_NOW_MS.with(|now| now.replace(None)).unwrap_or(0);
    outcome.map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".to_owned());
        let message = match PANIC_LOCATION.with(|l| l.borrow_mut().take()) {
            Some(location) => format!("{message} (at {location})"),
            None => message,
        };
        Panicked { at_ms, message }
    })
}
