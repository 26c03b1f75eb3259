//! The lab's PSNR against a numpy reference (`scripts/check_psnr.py`) on the decoded files of a
//! real bench run: they must agree within 0.01 dB. Skipped with a note when python3 with numpy
//! and Pillow is not at hand.

use std::collections::BTreeMap;
use std::process::Command;

use tessera_lab::bench::{self, Contender, LadderSpec, Plan};
use tessera_lab::results::RunDir;

mod common;
use common::{items, Coarse};

#[test]
fn lab_psnr_matches_numpy_within_a_hundredth_of_a_db() {
    let has_numpy = Command::new("python3")
        .args(["-c", "import numpy, PIL"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has_numpy {
        println!("skipping: python3 with numpy and Pillow is not available (pip install numpy pillow)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path());
    let coarse = Coarse;
    let mut contenders = vec![Contender::ours(&coarse)];
    // A real reference codec too, when installed.
    if let Ok(r) = tessera_lab::reference::catalog::find("cjpeg").unwrap().detect() {
        contenders.push(Contender::Reference(r));
    }
    let ladder = LadderSpec::parse("coarse-test=20,50,95;cjpeg=10,50,90").unwrap();
    let mut plan = Plan::new("t".into(), items(), contenders, BTreeMap::new(), Some(&ladder), None, run, 1).unwrap();
    plan.keep = vec!["img0".into(), "img1".into()];
    let s = bench::run(&plan).unwrap();
    assert_eq!(s.failed, 0);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/check_psnr.py");
    let out = Command::new("python3").arg(script).arg(dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
}
