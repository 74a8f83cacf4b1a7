#[allow(clippy::disallowed_methods)] // the one exit, with cli's code
fn main() {
    std::process::exit(kafka_migrate::cli::main());
}
