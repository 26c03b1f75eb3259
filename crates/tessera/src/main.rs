//! The `tessera` command line.

use clap::{Parser, Subcommand};

mod cli;

/// Tessera: image compression with exact arithmetic coding, classical and learned codecs, and
/// a measurement lab.
#[derive(Parser)]
#[command(name = "tessera", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Codec(cli::codec::Command),
    #[command(flatten)]
    Entropy(cli::entropy::Command),
    #[command(flatten)]
    Lab(cli::lab::Command),
    #[command(flatten)]
    Report(cli::report::Command),
    #[command(flatten)]
    Study(cli::study::Command),
    #[command(flatten)]
    Train(cli::train::Command),
}

/// mimalloc keeps freed memory for reuse: training frees and allocates tensors of a few MB
/// thousands of times a second, and glibc's allocator hands each back to the kernel, so that
/// page faults cost more than the arithmetic and serialise the threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Codec(c) => cli::codec::run(c),
        Command::Entropy(c) => cli::entropy::run(c),
        Command::Lab(c) => cli::lab::run(c),
        Command::Report(c) => cli::report::run(c),
        Command::Study(c) => cli::study::run(c),
        Command::Train(c) => cli::train::run(c),
    };
    if let Err(e) = result {
        eprintln!("tessera: {e:#}");
        std::process::exit(1);
    }
}
