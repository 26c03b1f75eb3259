//! `vq` and `fractal` on real photos: every Kodak image (a 256×256 crop, to keep the run
//! short) gains PSNR as the quality rises, and the bit rate rises with it.

use std::path::PathBuf;

use tessera_classic::{fractal::Fractal, vq::Vq};
use tessera_core::{pipeline, Codec, EncodeParams, Image};

fn kodak_crops() -> Vec<(String, Image)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/kodak");
    let mut out = Vec::new();
    for i in 1..=24 {
        let name = format!("kodim{i:02}.png");
        let img = tessera_core::io::read_image(&dir.join(&name)).unwrap();
        let (w, x0, y0) = (256u32, img.width() / 2 - 128, img.total_height() / 2 - 128);
        let mut s = Vec::with_capacity(256 * 256 * 3);
        for y in y0..y0 + w {
            for x in x0..x0 + w {
                for c in 0..3 {
                    s.push(img.get(x, y, c));
                }
            }
        }
        out.push((name, Image::new(w, w, 3, 8, s).unwrap()));
    }
    out
}


fn check_ladder(codec: &dyn Codec, qualities: &[f32]) {
    for (name, img) in kodak_crops() {
        let mut last: Option<(usize, f64)> = None;
        for &q in qualities {
            let bytes = pipeline::compress(codec, &img, &EncodeParams::with_quality(q)).unwrap();
            let c = tessera_core::Container::from_bytes(&bytes).unwrap();
            let back = pipeline::decode_container(codec, &c).unwrap();
            let p = tessera_metrics::psnr(&img, &back).unwrap();
            if let Some((size, prev)) = last {
                assert!(p > prev, "{} {name}: q{q} gives {p:.2} dB, below {prev:.2}", codec.name());
                assert!(bytes.len() > size, "{} {name}: q{q} is not larger", codec.name());
            }
            last = Some((bytes.len(), p));
        }
    }
}

#[test]
fn vq_psnr_rises_with_quality_on_every_kodak_image() {
    check_ladder(&Vq, &[5.0, 40.0, 80.0]);
}

#[test]
fn fractal_psnr_rises_with_quality_on_every_kodak_image() {
    check_ladder(&Fractal, &[5.0, 40.0, 80.0]);
}

#[test]
fn target_bpp_is_met_by_the_quality_search() {
    let (_, img) = kodak_crops().swap_remove(0);
    for codec in [&Vq as &dyn Codec, &Fractal] {
        let params = EncodeParams { target_bpp: Some(0.5), ..EncodeParams::default() };
        let bytes = pipeline::compress(codec, &img, &params).unwrap();
        let bpp = bytes.len() as f64 * 8.0 / (256.0 * 256.0);
        assert!(bpp <= 0.5 && bpp > 0.3, "{}: {bpp}", codec.name());
    }
}
