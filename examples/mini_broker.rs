//! Runs a mini-broker cluster until Ctrl-C: the `kafka-migrate mini-broker`
//! command before it is wired into the CLI.
//! `cargo run --example mini_broker -- --brokers 5 --racks 3 --topic orders:12:3 --fill 20MiB`
use clap::Parser;
use kafka_migrate::minibroker;

#[path = "../src/cli/mini_broker.rs"]
mod mini_broker;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: mini_broker::MiniBrokerArgs,
}

fn main() -> anyhow::Result<()> {
    let _ = &minibroker::parse_size;
    let cli = Cli::parse();
    std::process::exit(mini_broker::exec(cli.args)?);
}
