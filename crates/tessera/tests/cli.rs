//! The `tessera` binary as a user runs it.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn tessera(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).current_dir(dir).output().unwrap()
}

fn write_test_png(path: &Path) {
    let img = tessera_core::Image::from_u8(
        19,
        7,
        3,
        &(0..19 * 7 * 3).map(|i| (i * 37 % 251) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let png = tessera_core::io::encode_image(&img, tessera_core::io::Format::Png).unwrap();
    std::fs::write(path, png).unwrap();
}

#[test]
fn explain_reproduces_the_tutorial_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(&["explain", "--freq", "a=2,b=7,c=1", "abc"], dir.path());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(text.contains("Final interval: [0.166, 0.18)"), "{text}");
    assert!(text.contains("Value (midpoint): 0.173"));
    assert!(text.contains("Decoded message: a b c"));
    let out = tessera(&["explain", "--freq", "a=2,b=3,c=1,d=4", "bdab"], dir.path());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Final interval: [0.3848, 0.392)") && text.contains("0.3884"), "{text}");
}

#[test]
fn pack_and_unpack_round_trip_and_refuse_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 97 + i / 1000) as u8).collect();
    std::fs::write(d.join("f.bin"), &data).unwrap();
    for fast in [false, true] {
        let mut args = vec!["pack", "f.bin", "-o", "f.tsrp", "--force"];
        if fast {
            args.push("--fast");
        }
        assert!(tessera(&args, d).status.success());
        assert!(tessera(&["unpack", "f.tsrp", "-o", "g.bin", "--force"], d).status.success());
        assert_eq!(std::fs::read(d.join("g.bin")).unwrap(), data);
    }
    std::fs::write(d.join("bad.tsrp"), b"TSRP but not really a pack file").unwrap();
    let out = tessera(&["unpack", "bad.tsrp", "-o", "bad.bin"], d);
    assert!(!out.status.success());
    assert!(!d.join("bad.bin").exists());
}

#[test]
fn explain_rejects_symbols_outside_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(&["explain", "--freq", "a=2,b=0", "ab"], dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("tessera: "));
}

#[test]
fn unknown_codec_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    write_test_png(&dir.path().join("in.png"));
    let out = tessera(&["compress", "--codec", "nope", "in.png", "-o", "x.tsr"], dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown codec 'nope'"));
    assert!(!dir.path().join("x.tsr").exists());
}

#[test]
fn corrupt_or_foreign_files_fail_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("foreign.tsr"), b"this is not a container").unwrap();
    let out = tessera(&["decompress", "foreign.tsr", "-o", "out.png"], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!dir.path().join("out.png").exists());
    let out = tessera(&["info", "foreign.tsr"], dir.path());
    assert!(!out.status.success());
}

/// Round trip through files and through stdin/stdout with the default (lossless) codec, and the
/// overwrite rules.
#[test]
fn compress_decompress_round_trip_and_overwrite_rules() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_test_png(&d.join("in.png"));
    assert!(tessera(&["compress", "in.png", "-o", "a.tsr"], d).status.success());
    assert!(tessera(&["decompress", "a.tsr", "-o", "back.png"], d).status.success());
    let a = tessera_core::io::read_image(&d.join("in.png")).unwrap();
    let b = tessera_core::io::read_image(&d.join("back.png")).unwrap();
    assert_eq!(a, b);
    // No overwriting without --force, and the file is untouched.
    let before = std::fs::read(d.join("a.tsr")).unwrap();
    let out = tessera(&["compress", "in.png", "-o", "a.tsr"], d);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(d.join("a.tsr")).unwrap(), before);
    assert!(tessera(&["compress", "in.png", "-o", "a.tsr", "--force"], d).status.success());
    // The input is never the output.
    assert!(!tessera(&["decompress", "a.tsr", "-o", "a.tsr", "--force"], d).status.success());
    // stdin to stdout.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["compress", "-", "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&std::fs::read(d.join("in.png")).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(tessera::registry::decompress(&out.stdout).unwrap(), a);
    // A cut file fails its checksum: an error, and no output file.
    let cut = &before[..before.len() - 3];
    std::fs::write(d.join("cut.tsr"), cut).unwrap();
    assert!(!tessera(&["decompress", "cut.tsr", "-o", "cut.png"], d).status.success());
    assert!(!d.join("cut.png").exists());
}

#[test]
fn variant_flag_picks_the_recurrent_network() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_test_png(&d.join("in.png"));
    let rnn = ["compress", "in.png", "--codec", "rnn", "-q", "2", "-o"];
    let out = tessera(&[&rnn[..], &["a.tsr", "--variant", "gru-additive"]].concat(), d);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info = String::from_utf8_lossy(&tessera(&["info", "a.tsr"], d).stdout).into_owned();
    assert!(info.contains("rnn-gru-additive"), "{info}");
    assert!(tessera(&["decompress", "a.tsr", "-o", "a.png"], d).status.success());
    // An unknown network, or two that disagree, is an error and writes nothing.
    let out = tessera(&[&rnn[..], &["b.tsr", "--variant", "gru-nothing"]].concat(), d);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown variant"));
    let clash = ["c.tsr", "--variant", "gru-additive", "--set", "variant=resgru-scaling"];
    let out = tessera(&[&rnn[..], &clash[..]].concat(), d);
    assert!(String::from_utf8_lossy(&out.stderr).contains("disagree"));
    assert!(!d.join("b.tsr").exists() && !d.join("c.tsr").exists());
}

#[test]
fn rnn_training_keeps_the_runs_crops_unless_asked_to_change_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("photos")).unwrap();
    let pixels: Vec<u8> = (0..40 * 40 * 3).map(|i| (i * 13 % 241) as u8).collect();
    let img = tessera_core::Image::from_u8(40, 40, 3, &pixels).unwrap();
    let png = tessera_core::io::encode_image(&img, tessera_core::io::Format::Png).unwrap();
    std::fs::write(d.join("photos/a.png"), png).unwrap();
    let train = |steps: &str, crops: &[&str]| {
        let mut args = vec!["train", "rnn", "--dir", "run", "--train", "photos", "--iterations", "1", "--steps", steps];
        args.extend_from_slice(crops);
        let out = tessera(&args, d);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(d.join("run/resume.json")).unwrap().split_whitespace().collect::<String>()
    };
    let state = train("1", &["--patch", "16", "--batch", "2"]);
    assert!(state.contains(r#""batch":2,"patch":16"#) && state.contains(r#""earlier":[]"#), "{state}");
    let state = train("2", &[]);
    assert!(state.contains(r#""step":2"#) && state.contains(r#""batch":2,"patch":16"#), "{state}");
    assert!(state.contains(r#""earlier":[]"#), "{state}");
    let state = train("3", &["--patch", "32", "--batch", "1"]);
    assert!(state.contains(r#""batch":1,"patch":32"#), "{state}");
    assert!(state.contains(r#""earlier":[{"until":2,"batch":2,"patch":16}]"#), "{state}");
}
