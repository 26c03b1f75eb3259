//! The report as a person sees it: built from a small run, loaded in headless Chromium, with no
//! broken image and no script error. Skipped, with a note, where Chromium is not installed
//! (`scripts/setup.sh` installs it).

use std::path::Path;
use std::process::Command;

use tessera_core::io::{encode_image, Format};
use tessera_core::Image;
use tessera_lab::report::{self, Options};
use tessera_lab::results::{write_json, CodecResults, Curve, ImageRecord, PointSummary, RunDir, RunInfo};

fn picture(seed: u16) -> Vec<u8> {
    let s: Vec<u16> = (0..64u16 * 48 * 3).map(|i| (i.wrapping_mul(seed) >> 3) % 256).collect();
    encode_image(&Image::new(64, 48, 3, 8, s).unwrap(), Format::Png).unwrap()
}

fn codec(name: &str, kind: &str, lossless: bool, bpps: &[f64]) -> CodecResults {
    let points: Vec<PointSummary> = bpps
        .iter()
        .enumerate()
        .map(|(i, &bpp)| PointSummary {
            setting: format!("q{i}"),
            bpp,
            bpsp: bpp / 3.0,
            psnr_rgb: (!lossless).then_some(25.0 + 6.0 * bpp.log2() + 10.0),
            ms_ssim_rgb: (!lossless).then_some(1.0 - 0.1 / (1.0 + bpp)),
            psnr_hvs: (!lossless).then_some(24.0 + 6.0 * bpp.log2() + 10.0),
            exact: lossless,
            decode_mps: 10.0,
            encode_mps: 5.0,
            images: 1,
            ..PointSummary::default()
        })
        .collect();
    let images = points
        .iter()
        .map(|p| ImageRecord { codec: name.into(), setting: p.setting.clone(), image: "pic".into(), bpp: p.bpp, psnr_rgb: p.psnr_rgb, ..ImageRecord::default() })
        .collect();
    CodecResults {
        name: name.into(),
        description: format!("{name} <test>"),
        results: Curve { bpp: bpps.to_vec(), ..Curve::default() },
        lossless,
        kind: kind.into(),
        dataset: "test".into(),
        points,
        images,
        ..CodecResults::default()
    }
}

fn make_run(dir: &Path) -> RunDir {
    let run = RunDir::new(dir);
    let info = RunInfo { dataset: "test".into(), images: vec!["pic".into()], kept: vec!["pic".into()], command: "tessera bench".into(), ..RunInfo::default() };
    write_json(&run.info(), &info).unwrap();
    let results = [
        codec("ours", "ours", false, &[0.2, 0.5, 1.0, 2.0]),
        codec("cjpeg", "reference", false, &[0.25, 0.6, 1.2, 2.2]),
        codec("ours-lossless", "ours", true, &[9.0]),
    ];
    for r in &results {
        write_json(&run.results(&r.name), r).unwrap();
        if !r.lossless {
            for p in &r.points {
                let path = run.decoded(&r.name, &p.setting, "pic");
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, picture(7)).unwrap();
            }
        }
    }
    std::fs::create_dir_all(run.original("pic").parent().unwrap()).unwrap();
    std::fs::write(run.original("pic"), picture(3)).unwrap();
    run
}

#[test]
fn report_has_every_section_and_escapes_text() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(&dir.path().join("run"));
    let json = r#"{"name": "bmshj2018-hyperprior", "description": "published", "results": {"bpp": [0.2, 0.5, 1.0], "psnr-rgb": [29.0, 32.5, 36.0], "ms-ssim-rgb": [0.94, 0.97, 0.99]}}"#;
    let published_file = dir.path().join("published.json");
    std::fs::write(&published_file, json).unwrap();
    let published = vec![tessera_lab::results::read_compressai(&published_file).unwrap()];
    let page = report::write(&run, &dir.path().join("out"), &Options { published, ..Options::default() }).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    for part in ["Lossy codecs", "Lossless codecs", "Reconstructions", "BD-rate vs cjpeg", "ours-lossless", "&lt;test&gt;", "bmshj2018-hyperprior"] {
        assert!(html.contains(part), "missing {part}");
    }
    assert!(!html.contains("<test>"));
    // Every image the page names exists beside it.
    for src in html.split("src=\"").skip(1).map(|s| s.split('"').next().unwrap()) {
        assert!(page.parent().unwrap().join(src).exists(), "{src}");
    }
}

#[test]
fn report_loads_in_a_real_browser_without_broken_images_or_errors() {
    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success())) else {
        eprintln!("chromium is not installed; skipping the browser check (scripts/setup.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(&dir.path().join("run"));
    let page = report::write(&run, &dir.path().join("out"), &Options::default()).unwrap();
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=3000"])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("data-images=\"ok\""), "images broken or page not loaded:\n{}", &dom[..dom.len().min(400)]);
    assert!(!dom.contains("data-errors"), "a script error on the page");
}
