//! `explain`: the tutorial's arithmetic coder, exact; `pack` / `unpack`: any file through the
//! context-mixing coder.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use tessera_entropy::explain::{explain, parse_message, parse_table};
use tessera_entropy::pack;

use super::io::{output_path, print, read_input, write_output};

#[derive(Subcommand)]
pub enum Command {
    /// Trace arithmetic coding of a message exactly: every stage's interval, the final interval,
    /// the value, the shortest binary code, the decode back, and what the integer coder writes.
    Explain {
        /// Frequency table, e.g. `a=2,b=7,c=1`.
        #[arg(long, conflicts_with = "freq_file", required_unless_present = "freq_file")]
        freq: Option<String>,
        /// File with one `SYMBOL=FREQUENCY` or `SYMBOL FREQUENCY` per line.
        #[arg(long)]
        freq_file: Option<PathBuf>,
        /// The message: characters when every symbol is one character, else whitespace-separated.
        #[arg(conflicts_with = "message_file", required_unless_present = "message_file")]
        message: Option<String>,
        /// Read the message from a file.
        #[arg(long)]
        message_file: Option<PathBuf>,
    },
    /// Compress any file with the context-mixing coder (compare with gzip, xz, zstd).
    Pack {
        /// Input file (`-` for stdin).
        input: PathBuf,
        /// Output (`-` for stdout; default: the input name with .tsrp appended).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Overwrite the output if it exists.
        #[arg(short, long)]
        force: bool,
        /// Order-1 adaptive coding: tens of times faster, larger files.
        #[arg(long)]
        fast: bool,
    },
    /// Restore a file made by `pack`.
    Unpack {
        /// Input .tsrp file (`-` for stdin).
        input: PathBuf,
        /// Output (`-` for stdout; default: the input name without .tsrp).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Overwrite the output if it exists.
        #[arg(short, long)]
        force: bool,
    },
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Explain { freq, freq_file, message, message_file } => {
            let table = match (freq, freq_file) {
                (Some(f), _) => f,
                (None, Some(path)) => read_table_file(&path)?,
                (None, None) => bail!("give --freq or --freq-file"),
            };
            let message = match (message, message_file) {
                (Some(m), _) => m,
                (None, Some(path)) => std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .trim_end_matches(['\n', '\r'])
                    .to_string(),
                (None, None) => bail!("give a message or --message-file"),
            };
            let (symbols, freqs) = parse_table(&table)?;
            let msg = parse_message(&symbols, &message)?;
            print(&explain(&symbols, &freqs, &msg)?.to_string())
        }
        Command::Pack { input, output, force, fast } => {
            let data = read_input(&input)?;
            let out = match output {
                Some(o) => o,
                None => output_path(None, &input, "")?.with_file_name(format!(
                    "{}.tsrp",
                    input.file_name().and_then(|n| n.to_str()).unwrap_or("out")
                )),
            };
            let packed = pack::compress_with(&data, if fast { pack::Level::Fast } else { pack::Level::Max });
            write_output(&out, &packed, force, Some(&input))?;
            if out != std::path::Path::new("-") {
                eprintln!(
                    "{} → {} ({} → {} bytes, {:.3} bits/byte)",
                    input.display(),
                    out.display(),
                    data.len(),
                    packed.len(),
                    packed.len() as f64 * 8.0 / data.len().max(1) as f64
                );
            }
            Ok(())
        }
        Command::Unpack { input, output, force } => {
            let packed = read_input(&input)?;
            let data = pack::decompress(&packed).with_context(|| format!("unpacking {}", input.display()))?;
            let out = match output {
                Some(o) => o,
                None if input.extension().is_some_and(|e| e == "tsrp") => input.with_extension(""),
                None if input == std::path::Path::new("-") => PathBuf::from("-"),
                None => bail!("give -o: the input does not end in .tsrp"),
            };
            write_output(&out, &data, force, Some(&input))
        }
    }
}

/// Turns a table file (`SYMBOL=FREQ` or `SYMBOL FREQ` per line) into the `--freq` syntax.
fn read_table_file(path: &PathBuf) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut items = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let item = match line.rsplit_once(char::is_whitespace) {
            Some((sym, f)) if !line.contains('=') => format!("{}={}", sym.trim(), f),
            _ => line.to_string(),
        };
        if item.contains(',') {
            bail!("symbols may not contain ',' ({line})");
        }
        items.push(item);
    }
    Ok(items.join(","))
}
