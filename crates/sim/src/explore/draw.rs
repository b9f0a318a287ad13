//! Draws the search makes with odds: a base by the schedule, a parent by
//! the new states it found, a rare pair of events. One draw from the
//! search's generator each, so that the search stays the same from its
//! seed.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// An index drawn with odds in proportion to `weights` (one draw from
/// `rng`), or `None`, drawing nothing, if they are all 0.
pub fn weighted(weights: &[u64], rng: &mut ChaCha8Rng) -> Option<usize> {
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut left = rng.random_range(0..total);
    weights.iter().position(|&w| match left.checked_sub(w) {
        Some(rest) => {
            left = rest;
            false
        }
        None => true,
    })
}

/// Event counts of a run that reached `events` (as `Summary::reached`).
#[cfg(test)]
pub fn reached_counts(events: &[ryw_core::Event]) -> Vec<u64> {
    let mut counts = vec![0; ryw_core::Event::COUNT];
    for &e in events {
        counts[e as usize] = 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn an_index_is_drawn_in_proportion_to_its_weight_and_never_at_weight_zero() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(weighted(&[0, 0], &mut rng), None);
        let mut drawn = [0u32; 3];
        for _ in 0..4_000 {
            drawn[weighted(&[1, 0, 3], &mut rng).expect("some weight")] += 1;
        }
        assert_eq!(drawn[1], 0, "{drawn:?}");
        assert!((800..1_200).contains(&drawn[0]), "{drawn:?}");
        assert!((2_800..3_200).contains(&drawn[2]), "{drawn:?}");
    }
}
