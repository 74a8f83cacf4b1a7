// Planning a million-partition snapshot allocates and frees millions of
// small lists: mimalloc does that faster, in less memory, than glibc's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(clippy::disallowed_methods)] // the one exit, with cli's code
fn main() {
    std::process::exit(kafka_migrate::cli::main());
}
