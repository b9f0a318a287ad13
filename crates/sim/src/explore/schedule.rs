//! Which base the search's own sequence runs next, once the warm-up is
//! over: a power schedule over the bases, by the events their runs reach.
//!
//! A base's score is the sum, over the named events its runs reached, of
//! how much more often its runs reach that event than runs of all bases
//! do; the next base is drawn with odds in proportion to the square of
//! its score. A base whose runs often reach what few runs reach (a node
//! that lost its state refusing to vote, an older snapshot refused, a
//! snapshot installed while reads waited) runs more often; one whose runs
//! reach only what every base reaches runs less, but never stops. Hard bugs
//! live near rare events: each of the planted bugs that only one or two
//! bases catch is caught where such events happen.
//!
//! Each base keeps its own sequence of seeds, so a base's k-th run in the
//! search is its k-th run in plain swarm: the schedule decides only how
//! fast each base goes through it. Only those runs count towards a
//! base's score (mutants are the corpus's business).

use rand_chacha::ChaCha8Rng;
use ryw_core::Event;

/// One base's runs in the sequence.
#[derive(Clone, Debug)]
struct BaseRuns {
    /// Rounds run so far: the base's next seed is the sequence's first
    /// plus this.
    rounds: u64,
    /// Runs learnt from, and those that reached each event.
    runs: u64,
    reached: [u64; Event::COUNT],
}

#[derive(Clone, Debug)]
pub struct Schedule {
    bases: Vec<BaseRuns>,
    /// Runs of every base, and those that reached each event.
    runs: u64,
    reached: [u64; Event::COUNT],
}

/// Fixed-point unit of a score (integers keep the draw the same on every
/// machine).
const MILLI: u128 = 1_000;

impl Schedule {
    pub fn new(bases: usize) -> Schedule {
        let base = BaseRuns {
            rounds: 0,
            runs: 0,
            reached: [0; Event::COUNT],
        };
        Schedule {
            bases: vec![base; bases],
            runs: 0,
            reached: [0; Event::COUNT],
        }
    }

    /// The base of turn `turn` in plain swarm's order, and its round.
    pub fn in_order(&mut self, turn: u64) -> (usize, u64) {
        let base = (turn % self.bases.len() as u64) as usize;
        (base, self.take_round(base))
    }

    /// The base drawn by the schedule, and its round.
    pub fn drawn(&mut self, rng: &mut ChaCha8Rng) -> (usize, u64) {
        let weights: Vec<u64> = (0..self.bases.len()).map(|b| self.weight(b)).collect();
        let base = super::draw::weighted(&weights, rng).expect("every base's odds are at least 1");
        (base, self.take_round(base))
    }

    /// A base's odds: one plus the square of its score (so that a base
    /// with no runs yet, or one that reaches nothing rare, still runs).
    fn weight(&self, base: usize) -> u64 {
        let own = &self.bases[base];
        if own.runs == 0 {
            return 1;
        }
        // The sum over events of (the share of its runs that reached e) /
        // (the share of all runs that did), in thousandths: each term is at
        // most the number of bases (only its runs reached e), so the square
        // fits in 64 bits below some hundred million bases.
        let score_milli: u128 = own
            .reached
            .iter()
            .zip(&self.reached)
            .filter(|&(&here, _)| here > 0)
            .map(|(&here, &all)| {
                u128::from(here) * u128::from(self.runs) * MILLI
                    / (u128::from(own.runs) * u128::from(all))
            })
            .sum();
        let square = score_milli * score_milli / (MILLI * MILLI);
        u64::try_from(square).expect("a score's square fits") + 1
    }

    fn take_round(&mut self, base: usize) -> u64 {
        let round = self.bases[base].rounds;
        self.bases[base].rounds += 1;
        round
    }

    /// A run of `base`'s own sequence reached the events counted in
    /// `reached` (`Summary::reached`).
    pub fn learn(&mut self, base: usize, reached: &[u64]) {
        self.runs += 1;
        self.bases[base].runs += 1;
        for (k, &count) in reached.iter().enumerate() {
            if count > 0 {
                self.bases[base].reached[k] += 1;
                self.reached[k] += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    use crate::explore::draw::reached_counts as reached;

    #[test]
    fn a_base_whose_runs_reach_rare_events_is_drawn_more_often_and_every_base_sometimes() {
        use Event::*;
        let mut schedule = Schedule::new(3);
        let common = [LeaderElected, FollowerReadServedAtOnce];
        for _ in 0..10 {
            for base in 0..3 {
                let mut events = common.to_vec();
                if base == 2 {
                    events.push(SnapshotOlderRefused);
                }
                schedule.learn(base, &reached(&events));
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut drawn = [0u32; 3];
        for _ in 0..3_000 {
            drawn[schedule.drawn(&mut rng).0] += 1;
        }
        // Scores 2, 2 and 5 (its runs reach the rare event 3 times as
        // often as all runs do): odds 5, 5 and 26.
        let odds: Vec<u64> = (0..3).map(|b| schedule.weight(b)).collect();
        assert_eq!(odds, [5, 5, 26]);
        assert!(drawn[2] > 2 * (drawn[0] + drawn[1]), "{drawn:?}");
        assert!(drawn[0] > 300 && drawn[1] > 300, "{drawn:?}");
        // Each base goes through its own rounds: 3,000 draws in all.
        let rounds: u64 = schedule.bases.iter().map(|b| b.rounds).sum();
        assert_eq!(rounds, 3_000);
        assert_eq!(schedule.bases[2].rounds, u64::from(drawn[2]));
    }

    #[test]
    fn in_order_takes_the_bases_in_turn_each_through_its_rounds() {
        let mut schedule = Schedule::new(2);
        let order: Vec<(usize, u64)> = (0..5).map(|turn| schedule.in_order(turn)).collect();
        assert_eq!(order, [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]);
        // A base with no runs learnt has odds 1, like one that reaches
        // nothing rare.
        assert_eq!(schedule.weight(0), 1);
    }
}
