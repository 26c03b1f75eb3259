//! `tessera data` and `tessera bench` from the command line: pins checked, bad requests refused
//! before work, a run resumed from its cache.

use std::path::Path;
use std::process::{Command, Output};

fn tessera(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn verify_refuses_a_file_that_differs_from_its_pin() {
    let repo_data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
    let fake = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(fake.path().join("kodak")).unwrap();
    std::fs::copy(repo_data.join("SHA256SUMS"), fake.path().join("SHA256SUMS")).unwrap();
    std::fs::copy(repo_data.join("kodak/kodim02.png"), fake.path().join("kodak/kodim02.png")).unwrap();
    let ok = tessera(&["data", "verify", "kodak"], &[("TESSERA_REPO_DATA", fake.path())]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("1 files match") && text(&ok).contains("23 not present"), "{}", text(&ok));
    let mut bytes = std::fs::read(repo_data.join("kodak/kodim01.png")).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(fake.path().join("kodak/kodim01.png"), bytes).unwrap();
    let bad = tessera(&["data", "verify", "kodak"], &[("TESSERA_REPO_DATA", fake.path())]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("SHA-256 mismatch") && text(&bad).contains("kodim01"), "{}", text(&bad));
}

#[test]
fn bench_refuses_bad_requests_before_work() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let d = dir.to_str().unwrap();
    for args in [
        vec!["bench", "--codecs", "nonesuch", "--out", d],
        vec!["bench", "--codecs", "vq", "--qualities", "0,50", "--out", d],
        vec!["bench", "--codecs", "vq", "--qualities", "ten", "--out", d],
        vec!["bench", "--codecs", "ours:lossless", "--images", "nonesuch", "--out", d],
        vec!["bench", "--dataset", "nonesuch", "--codecs", "vq", "--out", d],
    ] {
        let o = tessera(&args, &[]);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(!dir.exists(), "{args:?} started work");
    }
}

#[test]
fn bench_on_synthetic_resumes_from_its_cache() {
    let out = tempfile::tempdir().unwrap();
    let d = out.path().join("run");
    let args = ["bench", "--dataset", "synthetic", "--images", "2", "--codecs", "ours:lossless", "--out", d.to_str().unwrap(), "--quiet"];
    let first = tessera(&args, &[]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("2 measured, 0 from cache, 0 failed"), "{}", text(&first));
    let again = tessera(&args, &[]);
    assert!(text(&again).contains("0 measured, 2 from cache"), "{}", text(&again));
    let json = std::fs::read_to_string(d.join("results/lossless.json")).unwrap();
    assert!(json.contains("\"bpp\"") && json.contains("\"lossless\": true"), "{json}");
}

#[test]
fn bench_skips_a_codec_that_does_not_take_the_dataset() {
    let out = tempfile::tempdir().unwrap();
    let d = out.path().join("run");
    let args = ["bench", "--dataset", "synthetic", "--images", "1", "--codecs", "mnist-lossless,rle", "--out", d.to_str().unwrap(), "--quiet"];
    let run = tessera(&args, &[]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("mnist-lossless: skipped, it does not take these images"), "{}", text(&run));
    assert!(text(&run).contains("1 measured, 0 from cache, 0 failed"), "{}", text(&run));
}
