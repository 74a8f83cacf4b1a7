//! kafka-migrate: plan, apply, verify and roll back Kafka partition
//! reassignments. See ARCHITECTURE.md for the module map and invariants.

pub mod minibroker;
