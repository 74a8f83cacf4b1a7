//! Runs a mini-broker cluster until Ctrl-C (stand-in for the
//! `kafka-migrate mini-broker` subcommand until it is wired in):
//! `cargo run --example mini_broker -- --brokers 5 --racks 3 --topic orders:12:3 --fill 20MiB`
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: kafka_migrate::cli::mini_broker::MiniBrokerArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    std::process::exit(kafka_migrate::cli::mini_broker::exec(cli.args)?);
}
