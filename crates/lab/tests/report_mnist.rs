//! The report's MNIST section from a study folder and an MNIST bench run: every part present,
//! every picture it names copied beside the page, and (where Chromium is installed) the page
//! loads with no broken image and no script error.

use std::path::Path;
use std::process::Command;

use tessera_lab::report::{self, Options, mnist};
use tessera_lab::results::{CodecResults, PointSummary, RunDir, RunInfo, write_json};

fn codec(name: &str, kind: &str, lossless: bool, bpps: &[f64]) -> CodecResults {
    let points = bpps
        .iter()
        .enumerate()
        .map(|(i, &bpp)| PointSummary {
            setting: format!("q{i}"),
            bpp,
            psnr_rgb: (!lossless).then_some(20.0 + 5.0 * bpp),
            ms_ssim_rgb: (!lossless).then_some(0.9),
            exact: lossless,
            images: 1,
            ..PointSummary::default()
        })
        .collect();
    CodecResults {
        name: name.into(),
        description: name.into(),
        lossless,
        kind: kind.into(),
        dataset: "mnist".into(),
        points,
        ..CodecResults::default()
    }
}

fn bench_run(dir: &Path) {
    let run = RunDir::new(dir);
    let info = RunInfo {
        dataset: "mnist".into(),
        images: vec!["mnist".into()],
        command: "tessera bench --dataset mnist".into(),
        ..RunInfo::default()
    };
    write_json(&run.info(), &info).unwrap();
    for r in [
        codec("mnist-ae", "ours", false, &[0.1, 0.5, 2.0]),
        codec("cjpeg", "reference", false, &[0.4, 1.0]),
        codec("mnist-lossless", "ours", true, &[1.3]),
    ] {
        write_json(&run.results(&r.name), &r).unwrap();
    }
}

/// A study folder as `tessera study mnist` writes it: study.json and its pictures.
fn study_dir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let labels: Vec<u8> = (0..50).map(|i| (i % 10) as u8).collect();
    let xy: Vec<f64> = (0..100).map(|i| ((i * 37) % 17) as f64).collect();
    std::fs::write(
        dir.join("pca.png"),
        mnist::scatter_png("PCA <x>", &xy, &labels, 400, 320).unwrap(),
    )
    .unwrap();
    let model = |name: &str, plain: bool| {
        format!(
            r#"{{"name": "{name}", "plain": {plain}, "lambda": 0.01, "shape": {{"n": 32, "m": 16}}, "latent_values": 784,
               "analysis": "conv", "synthesis": "deconv", "weight_bytes": 1000, "steps": 10, "training_seconds": 60.0,
               "unquantised": {{"psnr": 30.0, "exact_pixels": 0.5, "exact_digits": 0.0, "max_error": 9, "mean_abs_error": 1.0}},
               "rounded": {{"psnr": 14.0, "exact_pixels": 0.2, "exact_digits": 0.0, "max_error": 200, "mean_abs_error": 9.0}},
               "payload_bpp": 0.23, "rounding_shift": 0.25, "run": "runs/x", "curve": [{{"step": 50, "loss": 1.0, "bpp": 0.5, "psnr": 12.0}}, {{"step": 100, "loss": 0.5, "bpp": 0.4, "psnr": 15.0}}]}}"#
        )
    };
    let json = format!(
        r#"{{"dataset": "MNIST test set", "digits": 50, "models": [{}, {}], "picture_model": "mnist-ae-q1",
            "pca_explained": [0.3, 0.1], "pca_explained_rounded": [0.3, 0.1], "tsne_digits": 50, "tsne_perplexity": 5.0,
            "tsne_epochs": 10, "tsne_seconds": 0.1, "interpolation_pairs": [[0, 6]], "reconstruction_rows": ["original"],
            "pictures": [{{"file": "pca.png", "title": "PCA <of> the latents", "caption": "a map"}}], "seconds": 1.0}}"#,
        model("mnist-ae-q1", false),
        model("mnist-ae-plain", true)
    );
    std::fs::write(dir.join("study.json"), json).unwrap();
}

fn inputs(root: &Path) -> mnist::Inputs {
    study_dir(&root.join("study"));
    bench_run(&root.join("bench"));
    mnist::Inputs {
        study: Some(root.join("study")),
        run: Some(root.join("bench")),
    }
}

fn check_page(page: &Path) -> String {
    let html = std::fs::read_to_string(page).unwrap();
    for part in [
        "<h2>MNIST</h2>",
        "Models",
        "mnist-ae-plain",
        "Rate and fidelity",
        "Lossless",
        "mnist-lossless",
        "Is a latent as large as the input lossless?",
        "Latent space",
        "Ratio and fidelity",
        "PCA &lt;of&gt; the latents",
    ] {
        assert!(html.contains(part), "missing {part}");
    }
    assert!(!html.contains("<of>"));
    for src in html
        .split("src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
    {
        assert!(page.parent().unwrap().join(src).exists(), "{src}");
    }
    for plot in ["mnist-psnr.png", "mnist-training.png"] {
        assert!(
            page.parent().unwrap().join("plots").join(plot).exists(),
            "{plot}"
        );
    }
    html
}

#[test]
fn the_mnist_page_has_every_part() {
    let dir = tempfile::tempdir().unwrap();
    let page = mnist::write_page(&inputs(dir.path()), &dir.path().join("out")).unwrap();
    check_page(&page);
    assert!(mnist::write_page(&mnist::Inputs::default(), &dir.path().join("none")).is_err());
}

#[test]
fn a_study_cannot_name_pictures_outside_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path());
    let json = std::fs::read_to_string(dir.path().join("study/study.json"))
        .unwrap()
        .replace("\"pca.png\"", "\"../bench/run.json\"");
    std::fs::write(dir.path().join("study/study.json"), json).unwrap();
    assert!(mnist::write_page(&inputs, &dir.path().join("out")).is_err());
}

#[test]
fn scatter_plots_refuse_mismatched_input() {
    assert!(mnist::scatter_png("x", &[0.0, 1.0, 2.0], &[1, 2], 400, 300).is_err());
    assert!(mnist::scatter_png("x", &[], &[], 400, 300).is_err());
    let png = mnist::scatter_png("x", &[0.0, 1.0, 2.0, 3.0], &[1, 2], 400, 300).unwrap();
    assert_eq!(tessera_core::io::decode_image(&png).unwrap().width(), 400);
}

#[test]
fn the_kodak_report_carries_the_mnist_section_and_loads_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    // A small lossy run for the main page.
    let run = RunDir::new(dir.path().join("run"));
    write_json(
        &run.info(),
        &RunInfo {
            dataset: "test".into(),
            command: "tessera bench".into(),
            ..RunInfo::default()
        },
    )
    .unwrap();
    let r = codec("ours", "ours", false, &[0.2, 1.0]);
    write_json(&run.results(&r.name), &r).unwrap();
    let opts = Options {
        mnist: Some(inputs(dir.path())),
        ..Options::default()
    };
    let page = report::write(&run, &dir.path().join("out"), &opts).unwrap();
    let html = check_page(&page);
    assert!(html.contains("Lossy codecs"));

    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        eprintln!(
            "chromium is not installed; skipping the browser check (scripts/setup.sh installs it)"
        );
        return;
    };
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--virtual-time-budget=3000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-images=\"ok\""),
        "images broken or page not loaded:\n{}",
        &dom[..dom.len().min(400)]
    );
    assert!(!dom.contains("data-errors"), "a script error on the page");
    assert!(dom.contains("src=\"mnist/pca.png\""));
}
