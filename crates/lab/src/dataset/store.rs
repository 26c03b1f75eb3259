//! Keeping sets on disk: status, verification against the pins, import from a folder and fetch
//! from the official addresses (with `curl`, for users who have internet).

use std::path::{Path, PathBuf};

use super::sums::{check_file, sha256_file, Pins};
use super::{data_dir, files_of, root_of, Origin, Spec};
use crate::{Error, Result};

/// How much of a stored set is on disk.
#[derive(Clone, Debug)]
pub struct Status {
    /// The set.
    pub spec: &'static Spec,
    /// Where its files are (or would be).
    pub root: Option<PathBuf>,
    /// Pinned files present.
    pub present: usize,
    /// Pinned files in all.
    pub total: usize,
}

/// The status of a set (generated sets are always complete).
pub fn status(spec: &'static Spec, pins: &Pins) -> Status {
    if spec.origin == Origin::Generated {
        return Status { spec, root: None, present: 1, total: 1 };
    }
    let files = files_of(spec, pins);
    let root = root_of(spec).ok();
    let present = root
        .as_ref()
        .map(|r| files.iter().filter(|(p, _)| r.join(p).is_file()).count())
        .unwrap_or(0);
    Status { spec, root, present, total: files.len() }
}

/// Checks every present file of a set against its pin; returns (checked, missing). A mismatch
/// is an [`Error::Checksum`].
pub fn verify(spec: &'static Spec, pins: &Pins) -> Result<(usize, usize)> {
    if spec.origin == Origin::Generated {
        return Ok((0, 0));
    }
    let root = root_of(spec)?;
    let (mut checked, mut missing) = (0, 0);
    for (rel, hash) in files_of(spec, pins) {
        let p = root.join(&rel);
        if p.is_file() {
            check_file(&p, &hash)?;
            checked += 1;
        } else {
            missing += 1;
        }
    }
    Ok((checked, missing))
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Files copied (or hard-linked) into the data directory.
    pub copied: usize,
    /// Files already there with the right hash.
    pub present: usize,
}

/// Copies every pinned file found under `from` (laid out as `kodak/…`, `cid22/training/…`,
/// `mnist/…`, like the pins) into `to`, checking each against its pin first. Hard links where
/// possible. A file whose hash differs stops the import with [`Error::Checksum`].
pub fn import(from: &Path, to: &Path, pins: &Pins) -> Result<Imported> {
    if !from.is_dir() {
        return Err(Error::Dataset(format!("{} is not a folder", from.display())));
    }
    let mut done = Imported::default();
    for (rel, hash) in pins.under("") {
        let src = from.join(rel);
        if !src.is_file() {
            continue;
        }
        let dst = to.join(rel);
        if dst.is_file() && sha256_file(&dst)? == hash {
            done.present += 1;
            continue;
        }
        check_file(&src, hash)?;
        place(&src, &dst, hash)?;
        done.copied += 1;
    }
    if done.copied + done.present == 0 {
        return Err(Error::Dataset(format!(
            "{} holds none of the pinned files (expected folders such as cid22/, clic2025-valid-half/, mnist/)",
            from.display()
        )));
    }
    Ok(done)
}

/// Puts a checked file at `dst`: a hard link, else a copy to a temporary name and a rename;
/// then checks the result.
fn place(src: &Path, dst: &Path, hash: &str) -> Result<()> {
    let dir = dst.parent().expect("pinned paths have a folder");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dst.with_extension(format!("import.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(src, &tmp).is_err() {
        std::fs::copy(src, &tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    if let Err(e) = check_file(&tmp, hash) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dst).map_err(|e| Error::io(dst, e))
}

/// The official addresses of a set's files, or why there are none.
pub fn urls(spec: &Spec, pins: &Pins) -> Result<Vec<(String, String)>> {
    let files = pins.under(spec.prefix).map(|(p, _)| p.to_string());
    match spec.name {
        "kodak" => Ok(files
            .map(|p| {
                let name = p.trim_start_matches("kodak/").to_string();
                (p, format!("https://r0k.us/graphics/kodak/kodak/{name}"))
            })
            .collect()),
        "mnist" | "mnist-train" => Ok(files
            .map(|p| {
                let name = p.trim_start_matches("mnist/").to_string();
                (p, format!("https://ossci-datasets.s3.amazonaws.com/mnist/{name}"))
            })
            .collect()),
        _ => Err(Error::Dataset(format!(
            "'{}' has no single official download; get it from its publisher and run \
             `tessera data import DIR` (files are checked against the pins)",
            spec.name
        ))),
    }
}

/// Downloads a set's files into `to` with `curl`, checking each against its pin before it is
/// put in place. Files already present and correct are kept.
pub fn fetch(spec: &'static Spec, to: &Path, pins: &Pins) -> Result<Imported> {
    let mut done = Imported::default();
    for (rel, url) in urls(spec, pins)? {
        let hash = pins.get(&rel).expect("urls come from the pins");
        let dst = to.join(&rel);
        if dst.is_file() && sha256_file(&dst)? == hash {
            done.present += 1;
            continue;
        }
        let dir = dst.parent().expect("pinned paths have a folder");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let tmp = dst.with_extension(format!("fetch.{}.tmp", std::process::id()));
        let status = std::process::Command::new("curl")
            .args(["-fsSL", "--retry", "2", "-o"])
            .arg(&tmp)
            .arg(&url)
            .status()
            .map_err(|e| Error::Tool(format!("cannot run curl: {e}")))?;
        if !status.success() {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::Tool(format!("curl {url}: {status}")));
        }
        if let Err(e) = check_file(&tmp, hash) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
        done.copied += 1;
    }
    Ok(done)
}

/// The data directory fetches and imports go to.
pub fn target_dir() -> PathBuf {
    data_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins_for(files: &[(&str, &[u8])]) -> Pins {
        let text: String = files
            .iter()
            .map(|(p, data)| {
                use sha2::Digest;
                let h = tessera_core::hex(&sha2::Sha256::digest(data));
                format!("{h}  ./{p}\n")
            })
            .collect();
        Pins::parse(&text).unwrap()
    }

    #[test]
    fn import_copies_checked_files_and_is_idempotent() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("cid22/training")).unwrap();
        std::fs::write(from.path().join("cid22/training/a.png"), b"aaa").unwrap();
        let pins = pins_for(&[("cid22/training/a.png", b"aaa"), ("cid22/training/b.png", b"bbb")]);
        let r = import(from.path(), to.path(), &pins).unwrap();
        assert_eq!(r, Imported { copied: 1, present: 0 });
        assert_eq!(std::fs::read(to.path().join("cid22/training/a.png")).unwrap(), b"aaa");
        let r = import(from.path(), to.path(), &pins).unwrap();
        assert_eq!(r, Imported { copied: 0, present: 1 });
    }

    #[test]
    fn import_refuses_a_file_that_differs_from_its_pin() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("mnist")).unwrap();
        std::fs::write(from.path().join("mnist/x.gz"), b"tampered").unwrap();
        let pins = pins_for(&[("mnist/x.gz", b"original")]);
        assert!(matches!(import(from.path(), to.path(), &pins), Err(Error::Checksum { .. })));
        assert!(!to.path().join("mnist/x.gz").exists());
        let empty = tempfile::tempdir().unwrap();
        assert!(import(empty.path(), to.path(), &pins).is_err());
    }

    #[test]
    fn embedded_sets_verify() {
        let pins = Pins::builtin();
        let kodak = super::super::spec("kodak").unwrap();
        assert_eq!(verify(kodak, &pins).unwrap(), (24, 0));
        let mnist = super::super::spec("mnist").unwrap();
        assert_eq!(verify(mnist, &pins).unwrap(), (2, 0));
        assert!(urls(super::super::spec("cid22-train").unwrap(), &pins).is_err());
        assert_eq!(urls(kodak, &pins).unwrap().len(), 24);
    }
}
