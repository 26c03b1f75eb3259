//! The subcommands, grouped by what they work on. Each module has a clap `Command` enum and a
//! `run` function.

pub mod codec;
pub mod entropy;
pub mod io;
pub mod lab;
pub mod report;
pub mod study;
pub mod train;
