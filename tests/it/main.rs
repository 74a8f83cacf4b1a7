//! The single integration-test binary: one module per area.

mod analysis;
mod cli;
mod commands;
mod formats;
mod minibroker;
mod plans;
mod props;
mod support;
mod units;
mod wire;
