//! SHA-256 pins: parsing `sha256sum`-style files and checking files against them.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};
use tessera_core::hex;

use crate::{Error, Result};

/// Every file Tessera knows, pinned: the embedded sets and the larger ones that are imported or
/// fetched. Paths are relative to a data root (`kodak/kodim01.png`, `cid22/training/…`).
pub const PINNED: &str = include_str!("../../sums/SHA256SUMS");

/// A set of pins: relative path → lowercase hex SHA-256.
#[derive(Clone, Debug, Default)]
pub struct Pins(BTreeMap<String, String>);

impl Pins {
    /// Parses `sha256sum` output (`HEX  ./path` or `HEX *path`), ignoring blank lines and `#`.
    pub fn parse(text: &str) -> Result<Pins> {
        let mut map = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (hex, path) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| Error::Dataset(format!("sums line {}: no path", i + 1)))?;
            let path = path.trim_start().trim_start_matches('*').trim_start_matches("./");
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::Dataset(format!("sums line {}: not a SHA-256", i + 1)));
            }
            map.insert(path.to_string(), hex.to_ascii_lowercase());
        }
        Ok(Pins(map))
    }

    /// The pins compiled into Tessera.
    pub fn builtin() -> Pins {
        Pins::parse(PINNED).expect("the compiled-in sums parse")
    }

    /// The pin of one relative path.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.0.get(path).map(String::as_str)
    }

    /// The pinned paths under `prefix` (a folder such as `kodak/`), sorted.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0
            .iter()
            .filter(move |(p, _)| p.starts_with(prefix))
            .map(|(p, h)| (p.as_str(), h.as_str()))
    }

    /// Number of pins.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pins.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The SHA-256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Checks a file against its pin: [`Error::Checksum`] when it differs.
pub fn check_file(path: &Path, expected: &str) -> Result<()> {
    let found = sha256_file(path)?;
    if found != expected {
        return Err(Error::Checksum {
            path: path.display().to_string(),
            expected: expected.to_string(),
            found,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pins_cover_the_sets() {
        let p = Pins::builtin();
        assert_eq!(p.under("kodak/").count(), 24);
        assert_eq!(p.under("mnist/").count(), 4);
        assert!(p.under("cid22/training/").count() > 200);
    }

    #[test]
    fn sha_mismatch_is_an_error_and_match_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, b"abc").unwrap();
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        check_file(&f, good).unwrap();
        let bad = good.replace('b', "c");
        assert!(matches!(check_file(&f, &bad), Err(Error::Checksum { .. })));
    }

    #[test]
    fn parses_star_and_dot_paths_and_rejects_junk() {
        let h = "a".repeat(64);
        let p = Pins::parse(&format!("{h}  ./a/b.png\n{h} *c.png\n\n# note\n")).unwrap();
        assert_eq!(p.get("a/b.png"), Some(h.as_str()));
        assert_eq!(p.get("c.png"), Some(h.as_str()));
        assert!(Pins::parse("xyz  a.png").is_err());
        assert!(Pins::parse(&h).is_err());
    }
}
