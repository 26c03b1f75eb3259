//! tessera-metrics against reference implementations (values made by
//! `scripts/golden/make_golden.py`: scikit-image, pytorch_msssim's algorithm, psnrhvsm.m,
//! the `bjontegaard` package).

use std::path::PathBuf;

use serde_json::Value;
use tessera_core::io::read_image;

fn golden() -> (PathBuf, Value) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let json = std::fs::read_to_string(dir.join("golden.json")).unwrap();
    (dir, serde_json::from_str(&json).unwrap())
}

fn close(what: &str, ours: f64, theirs: f64, tol: f64) {
    assert!((ours - theirs).abs() <= tol, "{what}: ours {ours}, reference {theirs}");
}

#[test]
fn image_metrics_match_the_references() {
    let (dir, g) = golden();
    for case in g["images"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let a = read_image(&dir.join(format!("{name}-ref.png"))).unwrap();
        let b = read_image(&dir.join(format!("{name}-dist.png"))).unwrap();
        let f = |k: &str| case[k].as_f64().unwrap();
        close(&format!("{name} psnr"), tessera_metrics::psnr(&a, &b).unwrap(), f("psnr"), 1e-9);
        close(&format!("{name} psnr-y"), tessera_metrics::psnr_luma(&a, &b).unwrap(), f("psnr_y"), 1e-9);
        close(&format!("{name} ssim"), tessera_metrics::ssim(&a, &b).unwrap(), f("ssim"), 1e-6);
        close(&format!("{name} ms-ssim"), tessera_metrics::ms_ssim(&a, &b).unwrap(), f("ms_ssim"), 1e-6);
        close(&format!("{name} psnr-hvs"), tessera_metrics::psnr_hvs(&a, &b).unwrap(), f("psnr_hvs"), 1e-6);
        close(&format!("{name} psnr-hvs-m"), tessera_metrics::psnr_hvs_m(&a, &b).unwrap(), f("psnr_hvs_m"), 1e-6);
    }
}

#[test]
fn bd_rate_and_bd_psnr_match_the_bjontegaard_package() {
    let (_, g) = golden();
    let rates: Vec<f64> = g["rates"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let curve = |name: &str| -> Vec<(f64, f64)> {
        let q = g["curves"][name].as_array().unwrap();
        rates.iter().zip(q).map(|(&r, q)| (r, q.as_f64().unwrap())).collect()
    };
    for case in g["bd"].as_array().unwrap() {
        let (anchor, test) = (case["anchor"].as_str().unwrap(), case["test"].as_str().unwrap());
        let (a, t) = (curve(anchor), curve(test));
        close(&format!("BD-rate {test} vs {anchor}"), tessera_metrics::bd_rate(&a, &t).unwrap(), case["bd_rate"].as_f64().unwrap(), 0.01);
        close(&format!("BD-PSNR {test} vs {anchor}"), tessera_metrics::bd_psnr(&a, &t).unwrap(), case["bd_psnr"].as_f64().unwrap(), 0.001);
    }
}

#[test]
fn identical_images_and_mismatched_pairs() {
    let (dir, _) = golden();
    let a = read_image(&dir.join("gray-jpeg50-ref.png")).unwrap();
    assert_eq!(tessera_metrics::psnr(&a, &a).unwrap(), f64::INFINITY);
    assert!((tessera_metrics::ssim(&a, &a).unwrap() - 1.0).abs() < 1e-12);
    assert!((tessera_metrics::ms_ssim(&a, &a).unwrap() - 1.0).abs() < 1e-12);
    let c = read_image(&dir.join("kodim23-jpeg20-ref.png")).unwrap();
    assert!(tessera_metrics::psnr(&a, &c).is_err());
    let cmp = tessera_metrics::compare(&a, &a).unwrap();
    assert!(cmp.psnr_rgb.is_none());
    assert!(serde_json::to_string(&cmp).unwrap().contains("\"psnr-rgb\":null"));
}
