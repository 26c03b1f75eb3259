//! Input and output for the subcommands: `-` for stdin/stdout, atomic writes, `--force`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Most bytes read from standard input (the container's own limits apply after).
const MAX_STDIN: u64 = 1 << 32;

/// Reads a whole file, or standard input for `-`.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().take(MAX_STDIN + 1).read_to_end(&mut buf).context("reading stdin")?;
        if buf.len() as u64 > MAX_STDIN {
            bail!("standard input is larger than {MAX_STDIN} bytes");
        }
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes `bytes` to standard output for `-`, else atomically to `path` (never over an existing
/// file unless `force`, never over the input).
pub fn write_output(path: &Path, bytes: &[u8], force: bool, input: Option<&Path>) -> Result<()> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()?;
        return Ok(());
    }
    if let Some(input) = input {
        if input != Path::new("-") && same_file(input, path) {
            bail!("refusing to write over the input {}", input.display());
        }
    }
    tessera_core::io::write_atomic(path, bytes, force)
        .with_context(|| format!("writing {}", path.display()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Writes `text` to standard output. A closed pipe (`tessera codecs | head -1`) is not an
/// error worth a message: the reader has what it wanted.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The output path: the one given, or the input with its extension replaced.
pub fn output_path(given: Option<PathBuf>, input: &Path, extension: &str) -> Result<PathBuf> {
    match given {
        Some(p) => Ok(p),
        None if input == Path::new("-") => Ok(PathBuf::from("-")),
        None => Ok(input.with_extension(extension)),
    }
}
