//! Protocols the engine's own tests (and examples) run.

pub mod register;
