//! Which rare moments the search aims at next: named events, and pairs of
//! them reached in one run, drawn with odds inversely in proportion to how
//! many runs reached them.
//!
//! Hard bugs sit where rare things meet: a retried write after a node
//! restored a snapshot (`duplicate-answered-from-filter` with
//! `snapshot-installed`), lin-kv reads held by a leader whose first round
//! outlived its term (`reads-armed-at-first-commit` with
//! `term-notice-in-own-term`). Each event alone may be common while the
//! pair is rare, and aiming only at the single rarest event spends every
//! such parent on one corner. A pair's odds are 1 / (runs that reached it),
//! so the rarest still weighs most, and every rare corner the corpus holds
//! gets its turn. (An event with itself is the event alone.)

use rand_chacha::ChaCha8Rng;
use ryw_core::Event;

/// Fixed-point numerator of a pair's odds (integers keep the draw the same
/// on every machine).
const ODDS_SCALE: u64 = 1 << 32;

#[derive(Clone, Debug)]
pub struct Rarity {
    /// Runs that reached both events of each pair (`i * COUNT + j`,
    /// `i <= j`).
    runs: Vec<u64>,
    /// Whether a corpus entry reached the pair (only those can be drawn).
    held: Vec<bool>,
}

impl Default for Rarity {
    fn default() -> Rarity {
        Rarity {
            runs: vec![0; Event::COUNT * Event::COUNT],
            held: vec![false; Event::COUNT * Event::COUNT],
        }
    }
}

/// The events whose counts in `reached` (`Summary::reached`) are not zero.
fn indices(reached: &[u64]) -> Vec<usize> {
    (0..reached.len()).filter(|&k| reached[k] > 0).collect()
}

/// The index of every pair of `events` (each with itself included).
fn pairs(events: &[usize]) -> impl Iterator<Item = usize> + '_ {
    events
        .iter()
        .enumerate()
        .flat_map(move |(n, &i)| events[n..].iter().map(move |&j| i * Event::COUNT + j))
}

impl Rarity {
    /// A run reached the events counted in `reached`.
    pub fn learn(&mut self, reached: &[u64]) {
        for pair in pairs(&indices(reached)) {
            self.runs[pair] += 1;
        }
    }

    /// A run that reached `reached` joined the corpus.
    pub fn hold(&mut self, reached: &[u64]) {
        for pair in pairs(&indices(reached)) {
            self.held[pair] = true;
        }
    }

    /// A pair of events some corpus entry reached, drawn with odds
    /// inversely in proportion to the runs that reached it.
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> Option<(Event, Event)> {
        let weights: Vec<u64> = (0..self.runs.len())
            .map(|pair| match (self.held[pair], self.runs[pair]) {
                (true, runs @ 1..) => ODDS_SCALE / runs,
                _ => 0,
            })
            .collect();
        let pair = super::draw::weighted(&weights, rng)?;
        Some((
            Event::ALL[pair / Event::COUNT],
            Event::ALL[pair % Event::COUNT],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    use crate::explore::draw::reached_counts as reached;

    #[test]
    fn a_pair_that_fewer_runs_reached_is_drawn_more_often_and_only_held_pairs_are_drawn() {
        use Event::*;
        let mut rarity = Rarity::default();
        assert_eq!(rarity.draw(&mut ChaCha8Rng::seed_from_u64(1)), None);
        // Both events are common alone; together they are rare.
        for _ in 0..90 {
            rarity.learn(&reached(&[LeaderElected, SnapshotInstalled]));
            rarity.learn(&reached(&[LeaderElected, DuplicateAnsweredFromFilter]));
        }
        let both = reached(&[
            LeaderElected,
            SnapshotInstalled,
            DuplicateAnsweredFromFilter,
        ]);
        for _ in 0..10 {
            rarity.learn(&both);
        }
        // Never held: a run reached it but none joined the corpus.
        rarity.learn(&reached(&[SnapshotOlderRefused]));
        rarity.hold(&both);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut drawn = std::collections::BTreeMap::new();
        for _ in 0..6_000 {
            let pair = rarity.draw(&mut rng).expect("pairs are held");
            *drawn.entry(pair).or_insert(0u32) += 1;
        }
        let together = drawn[&(DuplicateAnsweredFromFilter, SnapshotInstalled)];
        let alone = drawn[&(SnapshotInstalled, SnapshotInstalled)];
        let common = drawn[&(LeaderElected, LeaderElected)];
        // Runs: 10 together, 100 each alone, 190 leader elections.
        assert!(together > 6 * alone, "{drawn:?}");
        assert!(alone > common, "{drawn:?}");
        assert!(common > 0, "{drawn:?}");
        assert!(!drawn.contains_key(&(SnapshotOlderRefused, SnapshotOlderRefused)));
        // Six pairs of three events, each with itself included.
        assert_eq!(drawn.len(), 6, "{drawn:?}");
    }
}
