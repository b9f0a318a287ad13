//! Each node's own clock: the `now` a process sees is the run's time plus
//! an offset, running fast or slow by a drift rate. A process only ever
//! sees its own clock, which never goes backwards; the engine turns the
//! wake-up times it asks for back into the run's time.

use serde::{Deserialize, Serialize};

/// Parts per million of drift that double a clock's speed.
const PPM: i128 = 1_000_000;

/// A node's clock: `offset_ms` ahead of the run's, gaining `drift_ppm`
/// millionths of a millisecond per millisecond (negative: losing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Clock {
    pub offset_ms: u64,
    pub drift_ppm: i64,
}

/// Slowest drift allowed: a clock at half speed.
pub const DRIFT_PPM_MIN: i64 = -500_000;
/// Fastest drift allowed: a clock at double speed.
pub const DRIFT_PPM_MAX: i64 = 1_000_000;

impl Clock {
    /// Whether the clock reads the run's time.
    pub fn is_exact(&self) -> bool {
        *self == Clock::default()
    }

    /// What the node's clock reads at run time `run_ms`.
    pub fn node_ms(&self, run_ms: u64) -> u64 {
        if self.is_exact() {
            return run_ms;
        }
        let run = i128::from(run_ms);
        let drift = (run * i128::from(self.drift_ppm)).div_euclid(PPM);
        let node = run + i128::from(self.offset_ms) + drift;
        u64::try_from(node.max(0)).unwrap_or(u64::MAX)
    }

    /// The first run time at which the node's clock reads `node_ms` or
    /// later (when a timer it set for `node_ms` is due).
    pub fn run_ms(&self, node_ms: u64) -> u64 {
        if self.is_exact() {
            return node_ms;
        }
        if self.node_ms(0) >= node_ms {
            return 0;
        }
        let since_offset = i128::from(node_ms) - i128::from(self.offset_ms);
        let rate = PPM + i128::from(self.drift_ppm);
        let guess = (since_offset * PPM / rate).max(0);
        let mut run = u64::try_from(guess).unwrap_or(u64::MAX);
        while self.node_ms(run) < node_ms && run < u64::MAX {
            run += 1;
        }
        while run > 0 && self.node_ms(run - 1) >= node_ms {
            run -= 1;
        }
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_clock_reads_run_time() {
        let clock = Clock::default();
        assert_eq!(clock.node_ms(1234), 1234);
        assert_eq!(clock.run_ms(1234), 1234);
    }

    #[test]
    fn wake_ups_land_on_the_first_run_millisecond_that_reaches_them() {
        for clock in [
            Clock {
                offset_ms: 500,
                drift_ppm: 0,
            },
            Clock {
                offset_ms: 0,
                drift_ppm: 250_000,
            },
            Clock {
                offset_ms: 7,
                drift_ppm: -333_333,
            },
            Clock {
                offset_ms: 60_000,
                drift_ppm: DRIFT_PPM_MAX,
            },
            Clock {
                offset_ms: 1,
                drift_ppm: DRIFT_PPM_MIN,
            },
        ] {
            let mut last = 0;
            for run in 0..5_000 {
                let node = clock.node_ms(run);
                assert!(node >= last, "{clock:?}: the node's clock never goes back");
                last = node;
            }
            for wake in [0, 1, 10, 499, 500, 501, 1_000, 4_321, 70_000] {
                let run = clock.run_ms(wake);
                assert!(
                    clock.node_ms(run) >= wake,
                    "{clock:?}: due at {run} for {wake}"
                );
                assert!(
                    run == 0 || clock.node_ms(run - 1) < wake,
                    "{clock:?}: not later than needed"
                );
            }
        }
    }
}
