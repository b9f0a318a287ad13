//! The black-box runner's clock. Real processes run in real time, so this
//! runner, unlike the simulator, reads the wall clock, and reads it only
//! here (elsewhere the crate reads it only to report how long a run took).
//! A run against real processes cannot be replayed from its seed (see the
//! module doc of `maelstrom`); the simulator's path never calls this.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Now, on the wall clock.
pub fn now() -> Instant {
    Instant::now()
}

/// Gives a process whose stdout just closed a moment to finish exiting,
/// so that its exit status can be read.
pub fn let_it_exit() {
    std::thread::sleep(Duration::from_millis(20));
}

/// Milliseconds since the Unix epoch on the wall clock: fresh names for
/// log directories, and a seed for a run given none (it is printed).
pub fn wall_stamp_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}
