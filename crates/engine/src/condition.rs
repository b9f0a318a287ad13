//! What the faults make of each node at a moment ([`Condition`]), told to
//! the harness at every step for its abstract state.

/// What the faults make of one node at a moment, as a harness's abstract
/// state sees it. The first that applies, in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Condition {
    /// Running, every link as the network's parameters say.
    #[default]
    Up,
    /// Crashed, wiped, stopped, or refused to start.
    Down,
    /// Frozen: no deliveries, no timers.
    Paused,
    /// A cut touches one of its links, either way.
    CutOff,
    /// Lag, or a lossy or slow link, touches it.
    Slowed,
}
