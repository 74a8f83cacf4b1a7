//! The single integration-test binary: one module per area.

mod cli;
mod formats;
mod inflight;
mod minibroker;
mod plans;
mod props;
mod support;
mod wire;
