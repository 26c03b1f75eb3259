//! The bench runner end to end on tiny images: resuming from the cache, recording failures
//! (an external tool that fails, a codec that panics, a lossy decoder passed off as lossless),
//! checking names and ladders before work, and two real reference codecs when installed.

use std::collections::BTreeMap;

use tessera_core::{Codec, Image};
use tessera_lab::bench::{self, Contender, LadderSpec, Plan};
use tessera_lab::reference;
use tessera_lab::results::{read_compressai, Outcome, RunDir};

mod common;
use common::{items, recipe, Coarse, Raw};

#[test]
fn a_second_run_computes_nothing_and_a_deleted_result_is_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path().join("run"));
    let (raw, coarse) = (Raw, Coarse);
    let contenders = || vec![Contender::ours(&raw), Contender::ours(&coarse)];
    let ladder = LadderSpec::parse("coarse-test=30,90").unwrap();
    let plan = |c| Plan::new("t".into(), items(), c, BTreeMap::new(), Some(&ladder), None, run.clone(), 2).unwrap();

    let first = bench::run(&plan(contenders())).unwrap();
    assert_eq!((first.computed, first.cached, first.failed), (6, 0, 0));
    let second = bench::run(&plan(contenders())).unwrap();
    assert_eq!((second.computed, second.cached), (0, 6));
    // Results rebuilt from the cache are the same, timings included.
    assert_eq!(first.results, second.results);

    std::fs::remove_file(run.cache("coarse-test", "q90", "img1")).unwrap();
    let third = bench::run(&plan(contenders())).unwrap();
    assert_eq!((third.computed, third.cached), (1, 5));

    // The results files are in CompressAI's layout and read back.
    let r = read_compressai(&run.results("coarse-test")).unwrap();
    assert_eq!(r.results.bpp.len(), 2);
    assert!(r.results.psnr_rgb.iter().all(|p| p.is_some()));
    assert!(r.results.psnr_rgb[0].unwrap() < r.results.psnr_rgb[1].unwrap());
    let lossless = read_compressai(&run.results("raw-test")).unwrap();
    assert!(lossless.lossless && lossless.points[0].exact);
    // 8 bits per sample plus the container's header.
    assert!(lossless.points[0].bpsp > 8.0 && lossless.points[0].bpsp < 8.5);
    // The kept reconstructions and originals are there for the report's crops.
    assert!(run.decoded("coarse-test", "q30", "img0").is_file());
    assert!(run.original("img1").is_file());
    assert_eq!(run.read_info().unwrap().codecs, vec!["raw-test", "coarse-test"]);
}

#[test]
fn failures_are_recorded_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path().join("run"));
    let coarse = Coarse;
    let contenders = vec![
        Contender::Reference(recipe("fails", &["false"], None)),
        // "Lossless" but the decoder hands back a different image: a decode failure.
        Contender::Reference(recipe("liar", &["cp", "{in}", "{out}"], Some(&["sh", "-c", "printf 'P6\\n40 32\\n255\\n' > {dec}; head -c 3840 /dev/zero >> {dec}"]))),
        Contender::Reference(recipe("copy", &["cp", "{in}", "{out}"], Some(&["cp", "{out}", "{dec}"]))),
        Contender::ours(&coarse),
    ];
    let ladder = LadderSpec::parse("13,60").unwrap();
    let plan = Plan::new("t".into(), items(), contenders, BTreeMap::new(), Some(&ladder), None, run.clone(), 2).unwrap();
    let s = bench::run(&plan).unwrap();
    // fails: 2 images; liar: 2; coarse at q13 panics: 2.
    assert_eq!(s.failed, 6);
    let by_name = |n: &str| s.results.iter().find(|r| r.name == n).unwrap();
    assert_eq!(by_name("fails").failures.len(), 2);
    assert_eq!(by_name("fails").failures[0].stage, "encode");
    assert!(by_name("fails").points.is_empty());
    assert_eq!(by_name("liar").failures[0].stage, "decode");
    assert_eq!(by_name("copy").points[0].images, 2);
    let coarse = by_name("coarse-test");
    assert_eq!(coarse.points.len(), 1);
    assert!(coarse.failures.iter().all(|f| f.setting == "q13" && f.message.contains("panicked")));
    // Failures are cached too: a re-run does not retry them.
    match tessera_lab::results::read_json::<Outcome>(&run.cache("fails", "lossless", "img0")).unwrap() {
        Outcome::Failed(f) => assert_eq!(f.codec, "fails"),
        other => panic!("{other:?}"),
    }
    assert_eq!(bench::run(&plan).unwrap().computed, 0);
}

#[test]
fn bad_names_and_ladders_are_refused_before_work() {
    let ours: Vec<Box<dyn Codec>> = vec![Box::new(Raw), Box::new(Coarse)];
    assert!(matches!(bench::select("raw-test,nonesuch", &ours), Err(tessera_lab::Error::UnknownCodec(n)) if n == "nonesuch"));
    let (c, _) = bench::select("ours", &ours).unwrap();
    assert_eq!(c.len(), 2);
    let (c, _) = bench::select("lossless,raw-test", &ours).unwrap();
    assert!(c.iter().all(|c| c.lossless()));
    let (c, _) = bench::select("ours:raw-test", &ours).unwrap();
    assert_eq!(c.len(), 1);
    assert!(bench::select("ref:raw-test", &ours).is_err());
    assert!(bench::select("ours:cjpeg", &ours).is_err());
    let dir = tempfile::tempdir().unwrap();
    let make = |spec: &str| {
        let (c, skipped) = bench::select("ours", &ours).unwrap();
        let l = LadderSpec::parse(spec).unwrap();
        Plan::new("t".into(), items(), c, skipped, Some(&l), None, RunDir::new(dir.path()), 1).map(|_| ())
    };
    assert!(make("coarse-test=0").is_err(), "quality 0 is outside 1..=100");
    assert!(make("coarse-test=150").is_err());
    assert!(make("raw-test=50").is_err(), "a lossless codec takes no ladder");
    assert!(make("cjpeg=50").is_err(), "a ladder for a codec that is not selected");
    assert!(make("coarse-test=20,40").is_ok());
    let (c, s) = bench::select("ours", &ours).unwrap();
    assert!(Plan::new("t".into(), vec![], c, s, None, None, RunDir::new(dir.path()), 1).is_err());
    let (c, s) = bench::select("ours", &ours).unwrap();
    assert!(Plan::new("t".into(), items(), c, s, None, Some(&[0.5, -1.0]), RunDir::new(dir.path()), 1).is_err());
}

#[test]
fn a_codec_runs_with_its_options_under_its_own_name() {
    let ours: Vec<Box<dyn Codec>> = vec![Box::new(Raw), Box::new(Coarse)];
    let (c, _) = bench::select("coarse-test,ours:coarse-test+shift=6", &ours).unwrap();
    let names: Vec<&str> = c.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["coarse-test", "coarse-test+shift=6"]);
    assert!(bench::select("coarse-test+shift", &ours).is_err(), "an option without a value");
    assert!(bench::select("cjpeg+q=5", &ours).is_err(), "options are for Tessera's codecs");
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path());
    // The plain codec's ladder applies to it with options too.
    let ladder = LadderSpec::parse("coarse-test=90").unwrap();
    let plan = Plan::new("t".into(), items(), c, BTreeMap::new(), Some(&ladder), None, run.clone(), 1).unwrap();
    let done = bench::run(&plan).unwrap();
    assert_eq!((done.computed, done.failed), (4, 0));
    let psnr = |name: &str| read_compressai(&run.results(name)).unwrap().results.psnr_rgb[0].unwrap();
    // q90 keeps 6 bits; shift=6 keeps 2.
    assert!(psnr("coarse-test+shift=6") + 20.0 < psnr("coarse-test"));
}

#[test]
fn a_run_directory_keeps_to_its_dataset_and_grows_over_invocations() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path());
    let (raw, coarse) = (Raw, Coarse);
    let plan = |name: &str, c: &'static str| {
        let contender = if c == "raw" { Contender::ours(&raw) } else { Contender::ours(&coarse) };
        Plan::new(name.into(), items(), vec![contender], BTreeMap::new(), None, None, run.clone(), 1).unwrap()
    };
    bench::run(&plan("a", "raw")).unwrap();
    assert!(bench::run(&plan("b", "raw")).is_err());
    bench::run(&plan("a", "coarse")).unwrap();
    assert_eq!(run.read_info().unwrap().codecs, vec!["raw-test", "coarse-test"]);
    assert_eq!(run.read_results().unwrap().len(), 2);
}

#[test]
fn two_real_reference_codecs_on_a_kodak_crop() {
    let mut usable = Vec::new();
    for name in ["cjpeg", "cwebp"] {
        match reference::catalog::find(name).unwrap().detect() {
            Ok(r) => usable.push(r),
            Err(note) => println!("skipping: {note}"),
        }
    }
    if usable.is_empty() {
        println!("no reference codecs installed; run `bash scripts/setup.sh` to test them");
        return;
    }
    let (_, items) = tessera_lab::dataset::load("kodak", Some(1)).unwrap();
    let full = &items[0].image;
    let (w, h) = (96u32, 64u32);
    let mut px = Vec::new();
    for y in 200..200 + h {
        for x in 300..300 + w {
            for c in 0..3 {
                px.push(full.get(x, y, c));
            }
        }
    }
    let crop = Image::new(w, h, 3, 8, px).unwrap();
    for r in usable {
        let (lo, hi) = (r.ladder[1], r.ladder[r.ladder.len() - 1]);
        let a = r.trial(&crop, lo).unwrap();
        let b = r.trial(&crop, hi).unwrap();
        let pa = psnr(&crop, &a.decoded);
        let pb = psnr(&crop, &b.decoded);
        println!("{}: {} B {pa:.2} dB / {} B {pb:.2} dB", r.name, a.bytes, b.bytes);
        assert!(a.bytes > 0 && a.bytes < b.bytes, "{}: higher quality, bigger file", r.name);
        assert!(pa > 18.0 && pb > pa + 5.0 && pb < 60.0, "{}: {pa} {pb}", r.name);
    }
}

fn psnr(a: &Image, b: &Image) -> f64 {
    let se: f64 = a.samples().iter().zip(b.samples()).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum();
    10.0 * (255.0f64.powi(2) * a.samples().len() as f64 / se).log10()
}

#[test]
fn target_bpp_bisects_to_the_best_setting_that_fits() {
    // A fake lossy tool whose file is (64 - Q) × 10 bytes: on 40×32 pixels, 0.5 bpp allows 80
    // bytes, so the answer is Q = 56.
    let mut r = recipe("sized", &["sh", "-c", "head -c $(( (64 - {v}) * 10 )) /dev/zero > {out}"], Some(&["cp", "{in}", "{dec}"]));
    r.lossless = false;
    r.knob = "Q".into();
    r.range = (1.0, 63.0);
    let c = Contender::Reference(r);
    let img = &items()[0].image;
    let (v, t) = c.bisect_bpp(img, 0.5).unwrap();
    assert_eq!((v, t.bytes), (56.0, 80));
    // Unreachable targets give the smallest file.
    let (v, t) = c.bisect_bpp(img, 0.001).unwrap();
    assert_eq!((v, t.bytes), (63.0, 10));

    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::new("t".into(), items(), vec![c], BTreeMap::new(), None, Some(&[0.5]), RunDir::new(dir.path()), 1).unwrap();
    let s = bench::run(&plan).unwrap();
    let p = &s.results[0].points[0];
    assert_eq!((p.setting.as_str(), p.images), ("bpp0.5", 2));
    assert!(s.results[0].images.iter().all(|r| r.value == 56.0 && r.bpp <= 0.5));
}
