//! What the engine runs: sans-IO processes that exchange messages.
//!
//! The shape follows quinn-proto and stateright's `Actor`: input comes in
//! through `handle_*` with the time as an argument, output goes out through
//! `poll_*`. A process never reads a clock, sleeps, spawns or does I/O, so
//! the engine decides everything about when things happen.

use crate::disk::SimDisk;

/// Where a message comes from or goes to, as the engine routes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Address {
    /// Node `i` of the run, counted from 0 (shown as `n{i+1}`).
    Node(usize),
    /// Client `i` of the harness, counted from 0 (shown as `c{i+1}`).
    Client(usize),
    /// Nobody the engine knows: such a message is dropped and traced.
    Elsewhere,
}

/// A message between processes and clients. Cloning must be cheap enough
/// to duplicate a message on the wire.
pub trait Message: Clone {
    fn src(&self) -> Address;
    fn dest(&self) -> Address;
    /// The message's kind, for diagrams: `"append_entries"`, `"put_ok"`.
    fn label(&self) -> &'static str;
    /// The message as one JSON value, appended to `out` (trace lines and
    /// diagram hover texts). The same message must always write the same text.
    fn write_json(&self, out: &mut String);
}

/// A node under test. Every `now_ms` it is given, and every time it asks
/// for in `poll_timeout`, is on its own clock (see [`crate::clock`]).
///
/// Rules the engine keeps, and a process may rely on:
/// - calls on one process never overlap, and `now_ms` never goes backwards
///   from one call to the next (it may stay the same);
/// - after every `handle_*` call the engine drains `poll_transmit` until it
///   returns `None`, then asks `poll_timeout` once;
/// - `handle_timeout` is called at (never before) the time `poll_timeout`
///   last returned, unless the process is paused or crashed then, in which
///   case it is called when it resumes;
/// - a crash drops the process; a restart builds a new one from the value
///   `durable` returned at the crash (see [`crate::Harness::boot`]), whose
///   disk, if it has one, lost what the crash fault says of its unsynced
///   writes;
/// - `handle_synced` comes after the step that asked for the fsync, in the
///   order they were asked for, and never to a later life of the process.
///   Nothing else survives: not the outbox, not timers, not messages in
///   flight to it.
pub trait Process {
    type Message: Message;
    /// What survives a crash (term, vote and log, for Raft).
    type Durable;

    fn handle_message(&mut self, now_ms: u64, message: Self::Message);
    fn handle_timeout(&mut self, now_ms: u64);
    fn poll_transmit(&mut self) -> Option<Self::Message>;
    /// When the process next wants `handle_timeout`; `None`: never.
    fn poll_timeout(&self) -> Option<u64>;
    /// A copy of what a crash keeps.
    fn durable(&self) -> Self::Durable;
    /// The term (view, epoch) this process leads, if it believes it leads.
    /// Faults aimed at `"leader"`, leader triggers, leader message counts
    /// and diagram marks use it; protocols without leaders keep the default.
    fn leading(&self) -> Option<u64> {
        None
    }
    /// How long this process's log is, for faults aimed at `longest_log`;
    /// protocols without a log keep the default.
    fn log_length(&self) -> u64 {
        0
    }
    /// The process's simulated disk, if it keeps one. The engine starts
    /// the fsyncs it asks for ([`SimDisk::request_sync`]) after every step,
    /// completes them after the disk's latency, loses what is unsynced at a
    /// crash, and applies disk faults to it.
    fn disk_mut(&mut self) -> Option<&mut SimDisk> {
        None
    }
    /// The disk inside what a crash kept, so that faults reach the disk of
    /// a node that is down; it must be the disk `disk_mut` returned.
    fn disk_of(_durable: &mut Self::Durable) -> Option<&mut SimDisk> {
        None
    }
    /// fsync `sync` (an id from [`SimDisk::request_sync`]) has completed:
    /// what it covered is durable.
    fn handle_synced(&mut self, _now_ms: u64, _sync: u64) {}
    /// fsync `sync` failed (an `fsync_error` fault): nothing it covered is
    /// durable, and its pages are dropped.
    fn handle_sync_failed(&mut self, _now_ms: u64, _sync: u64) {}
    /// Why the process stopped itself (a store that fail-stops on an fsync
    /// error): the engine then takes it down as a crash, keeping its disk,
    /// and restarts it when the fault that stopped it ends.
    fn stopped(&self) -> Option<String> {
        None
    }
}
