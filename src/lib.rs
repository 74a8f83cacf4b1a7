//! kafka-migrate: plan, apply, verify and roll back Kafka partition
//! reassignments. See ARCHITECTURE.md for the module map and invariants.

pub mod analysis;
pub mod cli;
pub mod demo;
pub mod exec;
pub mod fsutil;
pub mod kafka;
pub mod minibroker;
pub mod model;
pub mod planner;
pub mod synth;
pub mod units;
