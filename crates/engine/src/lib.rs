//! `sim-engine`: a deterministic simulation engine for any sans-IO
//! process. It knows no protocol; Cargo keeps it that way (it depends on no
//! crate of the store).
//!
//! - A node is a [`Process`]: it takes messages and timeouts with the time
//!   as an argument, and hands back what it sends and when it next wants
//!   to wake. It never reads a clock, spawns a thread or does I/O.
//! - A [`Harness`] is the protocol's side of a run: it boots nodes, drives
//!   clients, observes every node after every step, and judges the run.
//! - The [`Engine`] owns everything else: the virtual clock and the event
//!   queue ([`queue`]), the seeded streams of randomness ([`seeds`]), the
//!   network ([`network`]), the nodes' disks ([`disk`]: fsync latency,
//!   what a crash keeps, disk faults), the faults ([`faults`], drawn by
//!   [`swarm`]), the
//!   trace ([`trace`]), the diagram ([`diagram`]) and many runs at once
//!   ([`sweep`]).
//!
//! One master seed decides every random choice, so a run replays exactly
//! from its seed. `examples/` and `tests/register.rs` test a second,
//! unrelated protocol with it.

pub mod clock;
pub mod condition;
pub mod diagram;
pub mod disk;
pub mod faults;
mod guard;
pub mod harness;
pub mod network;
pub mod process;
pub mod queue;
pub mod run;
pub mod seeds;
pub mod slab;
pub mod swarm;
pub mod sweep;
pub mod text;
pub mod trace;

pub use condition::Condition;
pub use guard::{guarded, Panicked};
pub use harness::{Ctx, End, Harness};
pub use process::{Address, Message, Process};
pub use run::{Engine, Finished, Setup, Stats};
