//! Rate–distortion and speed of `dct` (or `CODEC=wavelet-lossy`) on all of Kodak, one image
//! at a time on one core (ignored by default; run with
//! `cargo test --release -p tessera-classic --test lossy_bench -- --ignored --nocapture`).
//! Prints `codec quality mean_bpp mean_rgb_psnr mean_ms` lines (ms: encode + decode of one
//! image), bpp counting the whole container, then the BD-rate against the lab's same-run
//! `cjpeg` curve in `runs/kodak-reference`.

use std::path::PathBuf;
use std::time::Instant;

use tessera_classic::lossy::dct::Dct;
use tessera_classic::lossy::wavelet::WaveletLossy;
use tessera_core::{pipeline, Codec, Container, EncodeParams};

/// `(bpp, psnr_rgb)` of every point in a lab result file's `points` array.
fn reference_curve(json: &str) -> Vec<(f64, f64)> {
    let points = &json[json.find("\"points\"").expect("points")..];
    let points = &points[..points.find("\"images\": [").unwrap_or(points.len())];
    let number = |s: &str, key: &str| -> Option<f64> {
        let rest = &s[s.find(key)? + key.len()..];
        let rest = rest.trim_start_matches([':', ' ']);
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        rest[..end].trim().parse().ok()
    };
    points
        .split("\"setting\"")
        .skip(1)
        .filter_map(|p| Some((number(p, "\"bpp\"")?, number(p, "\"psnr_rgb\"")?)))
        .collect()
}

#[test]
#[ignore]
fn lossy_on_kodak() {
    let codec: Box<dyn Codec> = match std::env::var("CODEC").as_deref() {
        Ok("wavelet-lossy") => Box::new(WaveletLossy),
        Ok("dct") | Err(_) => Box::new(Dct),
        Ok(other) => panic!("CODEC={other}: dct or wavelet-lossy"),
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let images: Vec<_> = (1..=24)
        .map(|i| tessera_core::io::read_image(&root.join(format!("data/kodak/kodim{i:02}.png"))).unwrap())
        .collect();
    let mut curve = Vec::new();
    for q in [5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 75.0, 85.0, 92.0, 95.0] {
        let (mut bpp, mut psnr, mut ms) = (0.0, 0.0, 0.0);
        for img in &images {
            let t = Instant::now();
            let bytes = pipeline::compress(codec.as_ref(), img, &EncodeParams::with_quality(q)).unwrap();
            let back = pipeline::decode_container(codec.as_ref(), &Container::from_bytes(&bytes).unwrap()).unwrap();
            ms += t.elapsed().as_secs_f64() * 1000.0;
            bpp += bytes.len() as f64 * 8.0 / f64::from(img.width() * img.height());
            psnr += tessera_metrics::psnr(img, &back).unwrap();
        }
        let n = images.len() as f64;
        println!("{} {q} {:.4} {:.3} {:.1}", codec.name(), bpp / n, psnr / n, ms / n);
        curve.push((bpp / n, psnr / n));
    }
    if let Ok(json) = std::fs::read_to_string(root.join("runs/kodak-reference/results/cjpeg.json")) {
        let anchor = reference_curve(&json);
        let bd = tessera_metrics::bd_rate(&anchor, &curve).unwrap();
        println!("BD-rate vs cjpeg (RGB PSNR, {} anchor points): {bd:.2}%", anchor.len());
    }
}
