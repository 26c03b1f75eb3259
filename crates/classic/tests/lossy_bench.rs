//! Rate–distortion and speed of `dct` on all of Kodak (ignored by default; run with
//! `cargo test --release -p tessera-classic --test lossy_bench -- --ignored --nocapture`).
//! Prints `quality mean_bpp mean_rgb_psnr mean_ms` lines, bpp counting the whole container.

use std::path::PathBuf;
use std::time::Instant;

use tessera_classic::lossy::dct::Dct;
use tessera_core::{pipeline, Container, EncodeParams};

#[test]
#[ignore]
fn dct_on_kodak() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/kodak");
    let images: Vec<_> =
        (1..=24).map(|i| tessera_core::io::read_image(&dir.join(format!("kodim{i:02}.png"))).unwrap()).collect();
    for q in [10.0, 20.0, 30.0, 50.0, 70.0, 80.0, 90.0, 95.0] {
        let (mut bpp, mut psnr, mut ms) = (0.0, 0.0, 0.0);
        for img in &images {
            let t = Instant::now();
            let bytes = pipeline::compress(&Dct, img, &EncodeParams::with_quality(q)).unwrap();
            let back = pipeline::decode_container(&Dct, &Container::from_bytes(&bytes).unwrap()).unwrap();
            ms += t.elapsed().as_secs_f64() * 1000.0;
            bpp += bytes.len() as f64 * 8.0 / f64::from(img.width() * img.height());
            psnr += tessera_metrics::psnr(img, &back).unwrap();
        }
        let n = images.len() as f64;
        println!("dct {q} {:.4} {:.3} {:.1}", bpp / n, psnr / n, ms / n);
    }
}
