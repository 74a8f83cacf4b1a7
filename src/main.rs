fn main() {
    std::process::exit(kafka_migrate::cli::main());
}
