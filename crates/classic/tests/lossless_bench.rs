//! Measures the classical lossless codecs on all of Kodak (bits per sample, encode/decode
//! speed) and on the MNIST test set (bits per pixel). Ignored by default (it is a measurement, not a check); run with
//! `cargo test --release -p tessera-classic --test lossless_bench -- --ignored --nocapture`
//! (`CODECS=lossless,calic` for a subset, `IMAGES=8` for the first Kodak images, `EFFORT=1`,
//! `PLAIN=0` to skip the run without colour transform, `MNIST=0` to skip MNIST, `REPEAT=5` to
//! time the best of five encodes and decodes of each image, which steadies the speeds).

use std::path::PathBuf;
use std::time::Instant;

use tessera_classic::lossless::{
    blend::Blend, calic::Calic, huffman::Huffman, lzw::Lzw, predictive::Predictive, rle::Rle,
    wavelet::Wavelet,
};
use tessera_core::{Codec, EncodeParams, Header};

/// The best time of `repeat` runs of `f`, in seconds, and its last result.
fn best<T>(repeat: usize, f: impl Fn() -> tessera_core::Result<T>) -> (f64, T) {
    let mut fastest = f64::INFINITY;
    let mut out = None;
    for _ in 0..repeat {
        let t = Instant::now();
        out = Some(f().unwrap());
        fastest = fastest.min(t.elapsed().as_secs_f64());
    }
    (fastest, out.unwrap())
}

#[test]
#[ignore]
fn kodak_bpsp_and_speed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/kodak");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "png"));
    paths.sort();
    // `IMAGES=8` measures the first eight only.
    if let Some(n) = std::env::var("IMAGES").ok().and_then(|v| v.parse().ok()) {
        paths.truncate(n);
    }
    let images: Vec<_> = paths
        .iter()
        .map(|p| tessera_core::io::read_image(p).unwrap())
        .collect();
    let codecs: Vec<Box<dyn Codec>> = vec![
        Box::new(Rle),
        Box::new(Lzw),
        Box::new(Huffman),
        Box::new(Predictive),
        Box::new(Calic),
        Box::new(Wavelet),
        Box::new(Blend),
    ];
    // `CODECS=lossless,calic` measures only those.
    let mut codecs = codecs;
    if let Ok(only) = std::env::var("CODECS") {
        codecs.retain(|c| only.split(',').any(|n| n == c.name()));
    }
    // `EFFORT=1` measures a lower effort (the default is 5).
    let effort = std::env::var("EFFORT").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let params = EncodeParams { effort, ..EncodeParams::default() };
    let repeat = std::env::var("REPEAT").ok().and_then(|v| v.parse().ok()).unwrap_or(1usize).max(1);

    let mut none = params.clone();
    none.options.insert("transform".into(), "none".into());
    println!(
        "| codec | bpsp (Kodak, 24) | bpsp without colour transform | encode MP/s | decode MP/s |"
    );
    println!("|---|---:|---:|---:|---:|");
    for codec in &codecs {
        let (mut bytes, mut plain_bytes, mut samples, mut pixels) =
            (0usize, 0usize, 0usize, 0usize);
        let (mut enc_s, mut dec_s) = (0f64, 0f64);
        for img in &images {
            let (seconds, e) = best(repeat, || codec.encode(img, &params));
            enc_s += seconds;
            let header = Header::for_image(codec.name(), img, None);
            let (seconds, back) = best(repeat, || codec.decode(&header, &e.params, &e.payload));
            dec_s += seconds;
            assert!(back == *img);
            bytes += e.params.len() + e.payload.len();
            if std::env::var("PLAIN").is_ok_and(|v| v == "0") {
                plain_bytes += e.params.len() + e.payload.len();
            } else {
                let plain = codec.encode(img, &none).unwrap();
                plain_bytes += plain.params.len() + plain.payload.len();
            }
            samples += img.samples().len();
            pixels += img.pixel_count();
        }
        let mp = pixels as f64 / 1e6;
        let bpsp = |b: usize| b as f64 * 8.0 / samples as f64;
        println!(
            "| `{}` | {:.3} | {:.3} | {:.1} | {:.1} |",
            codec.name(),
            bpsp(bytes),
            bpsp(plain_bytes),
            mp / enc_s,
            mp / dec_s
        );
    }

    // MNIST test set: all 10,000 digits as one stack of frames, bits per pixel.
    if std::env::var("MNIST").is_ok_and(|v| v == "0") {
        return;
    }
    let mnist = tessera_core::io::read_image(&dir.join("../mnist/t10k-images-idx3-ubyte.gz")).unwrap();
    println!();
    println!("| codec | MNIST test set, bits per pixel (one stack of 10,000 frames) |");
    println!("|---|---:|");
    for codec in &codecs {
        let e = codec.encode(&mnist, &params).unwrap();
        let back = codec.decode(&Header::for_image(codec.name(), &mnist, None), &e.params, &e.payload).unwrap();
        assert!(back == mnist);
        let bits = (e.params.len() + e.payload.len()) as f64 * 8.0;
        println!("| `{}` | {:.4} |", codec.name(), bits / mnist.pixel_count() as f64);
    }
}
