//! The single integration-test binary: one module per area.

mod cli;
mod formats;
mod plans;
mod props;
mod support;
mod wire;
