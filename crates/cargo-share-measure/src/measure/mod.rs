//! What sharing buys, measured: [`bench`](mod@bench) builds programs static and shared and compares disk,
//! memory, start-up, run time, build time and update cost; [`analyze`] projects the saving from
//! Cargo's resolution alone, before anything is built.

pub mod analyze;
pub mod bench;
