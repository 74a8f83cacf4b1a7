//! The single integration-test binary: one module per area.

// Tests and benchmarks stage files, open sockets and print figures: the
// fences of clippy.toml are for the product.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

mod admin;
mod analysis;
mod cli;
mod commands;
mod demo;
mod disks;
mod files;
mod formats;
mod inflight;
mod live;
mod minibroker;
mod plans;
mod props;
mod secure;
mod secure_real;
mod support;
mod units;
mod wire;
