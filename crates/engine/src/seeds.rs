//! One master seed, split into named streams. Each part of a run that
//! draws random numbers (the swarm, the network, the clients, each node's
//! timers) gets a stream of its own, so a change in how much one part
//! draws never shifts what another part sees.
//!
//! Streams are handed out in the order they are asked for: the order of
//! the calls is part of what a seed means, and a harness keeps it fixed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub struct SeedStreams {
    master: ChaCha8Rng,
}

impl SeedStreams {
    pub fn new(seed: u64) -> SeedStreams {
        SeedStreams {
            master: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The next stream. `_name` says what it is for, where it is asked for.
    pub fn stream(&mut self, _name: &'static str) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.master.random())
    }

    /// The next seed, for a part that seeds itself (a node's own RNG).
    pub fn seed(&mut self, _name: &'static str) -> u64 {
        self.master.random()
    }
}
