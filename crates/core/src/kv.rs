//! The replicated state machine: a map from keys to values, each value
//! remembering the log index of the write that produced it.

use std::collections::BTreeMap;

use crate::data::{Key, Value};
use crate::id::Id;
use crate::message::{Command, Entry, RequestId};

/// A stored value and the log index of the entry that wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned {
    pub value: Value,
    pub index: u64,
}

/// Forwarded request ids remembered per origin and incarnation, to drop
/// duplicates. A duplicate arriving after this many newer requests from the
/// same life of the same origin would apply again; the simulator's delays
/// stay far below that.
pub const REQUEST_IDS_PER_ORIGIN_MAX: usize = 4096;

/// Lives (incarnations) of one origin whose request ids are remembered; the
/// one that applied a request longest ago is forgotten first. A copy of a
/// request from a life this many restarts back would apply again: it would
/// have had to stay in flight across all those restarts of its sender.
pub const INCARNATIONS_PER_ORIGIN_MAX: usize = 16;

/// One remembered life of an origin, as a snapshot holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct RememberedLife {
    pub incarnation: u32,
    /// The index of this life's last request applied (the life applied
    /// longest ago is forgotten first).
    pub last_applied: u64,
    /// (request id, index it applied at, what it did), ids ascending.
    pub requests: Vec<(u64, u64, FirstApplied)>,
}

/// What applying one committed entry did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Applied {
    Noop,
    /// A request applied before, at `index`, with outcome `first`: this
    /// copy changes nothing, and whoever asked again hears `first`.
    Duplicate {
        index: u64,
        first: FirstApplied,
    },
    Written,
    /// A cas whose precondition failed; the entry still occupies its index.
    CasRefused {
        key_missing: bool,
    },
}

/// What the first copy of a request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstApplied {
    Written,
    CasRefused { key_missing: bool },
}

impl From<FirstApplied> for Applied {
    fn from(first: FirstApplied) -> Applied {
        match first {
            FirstApplied::Written => Applied::Written,
            FirstApplied::CasRefused { key_missing } => Applied::CasRefused { key_missing },
        }
    }
}

/// The key-value state machine with its applied index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kv {
    map: BTreeMap<Key, Versioned>,
    applied_index: u64,
    /// Per origin, per life of it, each remembered request id with where
    /// and how it applied first.
    applied_requests: BTreeMap<Id, OriginLives>,
}

/// One origin's remembered lives: (incarnation, index of the last request
/// of that life applied, its window), at most
/// [`INCARNATIONS_PER_ORIGIN_MAX`]. A life's ids only grow, so each window
/// stays sorted however the incarnations compare (they are drawn at random).
#[derive(Clone, Debug, Default, PartialEq)]
struct OriginLives {
    lives: Vec<(u32, u64, RequestWindow)>,
}

impl OriginLives {
    fn window(&self, id: u64) -> Option<&RequestWindow> {
        let incarnation = incarnation_of(id);
        let (_, _, window) = self.lives.iter().find(|(i, _, _)| *i == incarnation)?;
        Some(window)
    }

    fn insert(&mut self, id: u64, index: u64, first: FirstApplied) {
        let incarnation = incarnation_of(id);
        let k = match self.lives.iter().position(|(i, _, _)| *i == incarnation) {
            Some(k) => k,
            None => {
                if self.lives.len() == INCARNATIONS_PER_ORIGIN_MAX {
                    let oldest = (0..self.lives.len())
                        .min_by_key(|&k| self.lives[k].1)
                        .expect("full, so not empty");
                    self.lives.swap_remove(oldest);
                }
                self.lives
                    .push((incarnation, index, RequestWindow::default()));
                self.lives.len() - 1
            }
        };
        let (_, last_applied, window) = &mut self.lives[k];
        *last_applied = index;
        window.insert(id, index, first);
    }
}

/// The life of its origin that gave out request id `id`: the high half.
fn incarnation_of(id: u64) -> u32 {
    (id >> 32) as u32
}

/// One origin's newest [`REQUEST_IDS_PER_ORIGIN_MAX`] applied request ids,
/// sorted, each with where and how it applied first. An origin numbers its
/// requests in order and they mostly apply in order, so a new id almost
/// always goes at the back, and a lookup is a binary search: cheaper, per
/// write, than a tree.
#[derive(Clone, Debug, Default, PartialEq)]
struct RequestWindow {
    applied: std::collections::VecDeque<(u64, u64, FirstApplied)>,
}

impl RequestWindow {
    fn position(&self, id: u64) -> Result<usize, usize> {
        self.applied.binary_search_by_key(&id, |&(seen, _, _)| seen)
    }

    fn get(&self, id: u64) -> Option<(u64, FirstApplied)> {
        let k = self.position(id).ok()?;
        let (_, index, first) = self.applied[k];
        Some((index, first))
    }

    /// Remembers `id`, forgetting the smallest id once the window is full.
    fn insert(&mut self, id: u64, index: u64, first: FirstApplied) {
        match self.applied.back() {
            Some(&(last, _, _)) if last >= id => {
                if let Err(k) = self.position(id) {
                    self.applied.insert(k, (id, index, first));
                }
            }
            _ => self.applied.push_back((id, index, first)),
        }
        if self.applied.len() > REQUEST_IDS_PER_ORIGIN_MAX {
            self.applied.pop_front();
        }
    }
}

impl Kv {
    pub fn get(&self, key: &Key) -> Option<&Versioned> {
        self.map.get(key)
    }

    /// Where and how `request` applied first, if it did (and is still
    /// remembered).
    pub fn first_application(&self, request: &RequestId) -> Option<(u64, FirstApplied)> {
        self.applied_requests
            .get(&request.origin)?
            .window(request.id)?
            .get(request.id)
    }

    /// Index of the last entry applied: the state reflects exactly entries `1..=applied_index`.
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// Applies the entry at `index`. Entries must arrive strictly in order.
    pub fn apply(&mut self, index: u64, entry: &Entry) -> Applied {
        assert_eq!(
            index,
            self.applied_index + 1,
            "entries are applied strictly in log order"
        );
        self.applied_index = index;
        if let Some(request) = &entry.request {
            if let Some((first_index, first)) = self.first_application(request) {
                return Applied::Duplicate {
                    index: first_index,
                    first,
                };
            }
        }
        let applied = self.apply_command(index, &entry.command);
        if let Some(request) = &entry.request {
            let first = match applied {
                Applied::CasRefused { key_missing } => FirstApplied::CasRefused { key_missing },
                _ => FirstApplied::Written,
            };
            match self.applied_requests.get_mut(&request.origin) {
                Some(lives) => lives.insert(request.id, index, first),
                None => {
                    let mut lives = OriginLives::default();
                    lives.insert(request.id, index, first);
                    self.applied_requests.insert(request.origin.clone(), lives);
                }
            }
        }
        applied
    }

    /// The state machine without its duplicate filter (planted bug
    /// `snapshot-forgets-dedup`).
    pub fn without_filter(&self) -> Kv {
        Kv {
            map: self.map.clone(),
            applied_index: self.applied_index,
            applied_requests: BTreeMap::new(),
        }
    }

    /// Every stored key with its value, in key order (for snapshots).
    pub fn entries(&self) -> impl ExactSizeIterator<Item = (&Key, &Versioned)> {
        self.map.iter()
    }

    /// The duplicate filter, for snapshots: per origin, per life of it
    /// (incarnation, index of its last request applied), each remembered
    /// request id with where and how it applied first.
    pub fn remembered_requests(&self) -> impl Iterator<Item = (&Id, Vec<RememberedLife>)> {
        self.applied_requests.iter().map(|(origin, lives)| {
            let lives = lives
                .lives
                .iter()
                .map(|(incarnation, last_applied, window)| RememberedLife {
                    incarnation: *incarnation,
                    last_applied: *last_applied,
                    requests: window.applied.iter().copied().collect(),
                })
                .collect();
            (origin, lives)
        })
    }

    /// A state machine rebuilt from a snapshot's parts: the map, the
    /// applied index, and the duplicate filter as
    /// [`Kv::remembered_requests`] gave it out.
    pub fn from_parts(
        applied_index: u64,
        map: impl IntoIterator<Item = (Key, Versioned)>,
        requests: impl IntoIterator<Item = (Id, Vec<RememberedLife>)>,
    ) -> Kv {
        let applied_requests = requests
            .into_iter()
            .map(|(origin, lives)| {
                let lives = lives
                    .into_iter()
                    .map(|life| {
                        let window = RequestWindow {
                            applied: life.requests.into_iter().collect(),
                        };
                        (life.incarnation, life.last_applied, window)
                    })
                    .collect();
                (origin, OriginLives { lives })
            })
            .collect();
        Kv {
            map: map.into_iter().collect(),
            applied_index,
            applied_requests,
        }
    }

    fn apply_command(&mut self, index: u64, command: &Command) -> Applied {
        match command {
            Command::Noop => Applied::Noop,
            Command::Write { key, value } => {
                let versioned = Versioned {
                    value: value.clone(),
                    index,
                };
                // Overwriting keeps the stored key: no copy of it to drop.
                match self.map.get_mut(key) {
                    Some(current) => *current = versioned,
                    None => {
                        self.map.insert(key.clone(), versioned);
                    }
                }
                Applied::Written
            }
            Command::Cas {
                key,
                from,
                to,
                create_if_not_exists,
            } => match self.map.get_mut(key) {
                Some(current) if current.value == *from => {
                    *current = Versioned {
                        value: to.clone(),
                        index,
                    };
                    Applied::Written
                }
                Some(_) => Applied::CasRefused { key_missing: false },
                None if *create_if_not_exists => {
                    let value = to.clone();
                    self.map.insert(key.clone(), Versioned { value, index });
                    Applied::Written
                }
                None => Applied::CasRefused { key_missing: true },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::RequestId;

    fn write(key: &str, value: i64, request: Option<RequestId>) -> Entry {
        Entry {
            term: 1,
            command: Command::Write {
                key: Key::Str(key.into()),
                value: value.into(),
            },
            request,
        }
    }

    fn from_n2(id: u64) -> Option<RequestId> {
        Some(RequestId {
            origin: Id::Node(2),
            id,
        })
    }

    #[test]
    fn keys_display_as_json_would_show_them() {
        assert_eq!(Key::Int(-7).to_string(), "-7");
        assert_eq!(Key::Str("x y".into()).to_string(), "\"x y\"");
    }

    // Reference: Raft §8: a forwarded request applies once, however often
    // it was proposed; the window of remembered ids is bounded.
    #[test]
    fn duplicate_requests_apply_once_within_a_bounded_window() {
        let mut kv = Kv::default();
        assert_eq!(kv.apply(1, &write("x", 1, from_n2(0))), Applied::Written);
        let first_of_0 = Applied::Duplicate {
            index: 1,
            first: FirstApplied::Written,
        };
        assert_eq!(kv.apply(2, &write("x", 2, from_n2(0))), first_of_0);
        assert_eq!(kv.get(&Key::Str("x".into())).map(|v| v.index), Some(1));
        let window = REQUEST_IDS_PER_ORIGIN_MAX as u64;
        // Ids 1..window fill the window together with id 0: all remembered.
        for id in 1..window {
            assert_eq!(
                kv.apply(id + 2, &write("y", 0, from_n2(id))),
                Applied::Written
            );
        }
        assert_eq!(kv.apply(window + 2, &write("x", 3, from_n2(0))), first_of_0);
        // One more id pushes the oldest, id 0, out of the window.
        assert_eq!(
            kv.apply(window + 3, &write("y", 0, from_n2(window))),
            Applied::Written
        );
        assert_eq!(
            kv.apply(window + 4, &write("x", 4, from_n2(0))),
            Applied::Written
        );
        // Another origin's ids are its own.
        let other = Some(RequestId {
            origin: Id::Node(3),
            id: 1,
        });
        assert_eq!(
            kv.apply(window + 5, &write("z", 5, other)),
            Applied::Written
        );
    }

    #[test]
    fn requests_applied_out_of_order_are_each_remembered() {
        let mut kv = Kv::default();
        for (index, id) in [(1, 5), (2, 3), (3, 4), (4, 9)] {
            assert_eq!(
                kv.apply(index, &write("x", 1, from_n2(id))),
                Applied::Written
            );
        }
        for (first_index, id) in [(1, 5), (2, 3), (3, 4), (4, 9)] {
            let again = kv.apply(first_index + 4, &write("x", 0, from_n2(id)));
            assert_eq!(
                again,
                Applied::Duplicate {
                    index: first_index,
                    first: FirstApplied::Written
                },
                "id {id}"
            );
        }
        assert_eq!(kv.get(&Key::Str("x".into())).map(|v| v.index), Some(4));
    }

    // A life drawn below an earlier one keeps its own window: its ids are
    // neither pushed out by the earlier life's nor mistaken for them.
    #[test]
    fn each_life_of_an_origin_has_its_own_window() {
        let mut kv = Kv::default();
        let high = 9u64 << 32;
        let low = 2u64 << 32;
        let window = REQUEST_IDS_PER_ORIGIN_MAX as u64;
        for k in 0..window {
            assert_eq!(
                kv.apply(k + 1, &write("x", 0, from_n2(high + k))),
                Applied::Written
            );
        }
        // The same low half in another life is another request.
        assert_eq!(
            kv.apply(window + 1, &write("y", 1, from_n2(low))),
            Applied::Written
        );
        assert_eq!(
            kv.apply(window + 2, &write("y", 2, from_n2(low))),
            Applied::Duplicate {
                index: window + 1,
                first: FirstApplied::Written
            },
            "the lower life's first id stays remembered beside a full window"
        );
        assert!(matches!(
            kv.apply(window + 3, &write("x", 3, from_n2(high))),
            Applied::Duplicate { index: 1, .. }
        ));
    }

    #[test]
    fn the_life_that_applied_longest_ago_is_forgotten_first() {
        let mut kv = Kv::default();
        let lives = INCARNATIONS_PER_ORIGIN_MAX as u64;
        for life in 0..=lives {
            assert_eq!(
                kv.apply(life + 1, &write("x", 0, from_n2(life << 32))),
                Applied::Written
            );
        }
        // Life 0 applied first and went out when life `lives` came in.
        assert_eq!(
            kv.apply(lives + 2, &write("x", 0, from_n2(0))),
            Applied::Written
        );
        assert!(matches!(
            kv.apply(lives + 3, &write("x", 0, from_n2(lives << 32))),
            Applied::Duplicate { .. }
        ));
    }

    #[test]
    fn cas_creates_a_missing_key_only_when_asked() {
        let mut kv = Kv::default();
        let cas = |create_if_not_exists| Entry {
            term: 1,
            command: Command::Cas {
                key: Key::Int(1),
                from: 0.into(),
                to: 9.into(),
                create_if_not_exists,
            },
            request: None,
        };
        assert_eq!(
            kv.apply(1, &cas(false)),
            Applied::CasRefused { key_missing: true }
        );
        assert!(kv.get(&Key::Int(1)).is_none());
        assert_eq!(kv.apply(2, &cas(true)), Applied::Written);
        let stored = kv.get(&Key::Int(1)).expect("created");
        assert_eq!((&stored.value, stored.index), (&Value::from(9), 2));
        assert_eq!(
            kv.apply(3, &cas(true)),
            Applied::CasRefused { key_missing: false },
            "'from' differs from the stored 9"
        );
    }
}
