//! The `wavelet-lossy` codec: round trips on odd, tiny, gray and colour images; PSNR rising
//! with quality on Kodak images; cut payloads decoding at every rate with PSNR falling as the
//! rate falls; `target_bpp` met in container bytes; corrupt and cut payloads give an error or
//! an image of the declared geometry.

use std::path::PathBuf;
use std::time::Instant;

use tessera_classic::lossy::wavelet::WaveletLossy;
use tessera_core::{pipeline, Codec, Container, EncodeParams, Header, Image, TruncateTarget};

fn synthetic(w: u32, h: u32, channels: u8) -> Image {
    let mut s = Vec::new();
    for y in 0..h {
        for x in 0..w {
            for c in 0..u32::from(channels) {
                let v = 128.0 + 90.0 * ((x as f32 * 0.21 + c as f32).sin() * (y as f32 * 0.13).cos());
                s.push(v as u16);
            }
        }
    }
    Image::new(w, h, channels, 8, s).unwrap()
}

fn kodak(i: u32) -> Image {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/kodak");
    tessera_core::io::read_image(&dir.join(format!("kodim{i:02}.png"))).unwrap()
}

fn round_trip(img: &Image, params: &EncodeParams) -> (usize, f64) {
    let bytes = pipeline::compress(&WaveletLossy, img, params).unwrap();
    let c = Container::from_bytes(&bytes).unwrap();
    let back = pipeline::decode_container(&WaveletLossy, &c).unwrap();
    assert_eq!(
        (back.width(), back.height(), back.channels(), back.bit_depth()),
        (img.width(), img.height(), img.channels(), img.bit_depth())
    );
    (bytes.len(), tessera_metrics::psnr(img, &back).unwrap())
}

#[test]
fn round_trips_on_odd_tiny_gray_and_colour() {
    for &(w, h) in &[(1, 1), (1, 7), (6, 1), (2, 3), (7, 5), (17, 9), (33, 65), (64, 64)] {
        for &ch in &[1u8, 3] {
            let img = synthetic(w, h, ch);
            for &q in &[1.0, 50.0, 100.0] {
                let (_, psnr) = round_trip(&img, &EncodeParams::with_quality(q));
                if q >= 100.0 {
                    assert!(psnr > 35.0, "{w}x{h}x{ch} q{q}: {psnr:.2} dB");
                }
            }
        }
    }
}

#[test]
fn sixteen_bit_is_scaled_and_alpha_refused() {
    let img8 = synthetic(20, 13, 3);
    let img16 = Image::new(20, 13, 3, 16, img8.samples().iter().map(|&v| v * 257).collect()).unwrap();
    let (_, psnr) = round_trip(&img16, &EncodeParams::with_quality(95.0));
    assert!(psnr > 35.0, "{psnr:.2} dB");
    let rgba = Image::new(4, 4, 4, 8, vec![100; 64]).unwrap();
    assert!(matches!(
        WaveletLossy.encode(&rgba, &EncodeParams::with_quality(50.0)),
        Err(tessera_core::Error::Unsupported(_))
    ));
}

#[test]
fn psnr_rises_with_quality_on_kodak() {
    for i in [1, 7, 19] {
        let img = kodak(i);
        let mut last = (0usize, 0f64);
        for &q in &[1.0, 30.0, 60.0, 90.0, 100.0] {
            let start = Instant::now();
            let (size, psnr) = round_trip(&img, &EncodeParams::with_quality(q));
            let bpp = size as f64 * 8.0 / img.pixel_count() as f64;
            println!("kodim{i:02} q{q}: {bpp:.3} bpp {psnr:.2} dB {:?}", start.elapsed());
            assert!(psnr > last.1 && size > last.0, "kodim{i:02} q{q}: {psnr:.2} dB, {size} bytes");
            if q == 1.0 {
                assert!(bpp < 0.2, "q1 gives {bpp:.3} bpp");
            }
            if q == 100.0 {
                assert!(bpp > if i == 7 { 1.5 } else { 2.0 }, "q100 gives {bpp:.3} bpp");
            }
            last = (size, psnr);
        }
    }
}

#[test]
fn cut_streams_decode_at_every_rate_and_lose_quality_as_rate_falls() {
    let img = kodak(3);
    let enc = WaveletLossy.encode(&img, &EncodeParams::with_quality(90.0)).unwrap();
    let header = Header::for_image("wavelet-lossy", &img, None);
    let mut last = f64::INFINITY;
    for &bpp in &[2.0, 1.0, 0.5, 0.25, 0.1, 0.05, 0.02] {
        let (params, payload) =
            WaveletLossy.truncate(&header, &enc.params, &enc.payload, TruncateTarget::Bpp(bpp)).unwrap();
        let size = Container { header: header.clone(), params: params.clone(), payload: payload.clone() }
            .to_bytes()
            .unwrap()
            .len();
        assert!(size as f64 * 8.0 <= bpp * img.pixel_count() as f64, "{bpp} bpp: {size} bytes");
        let back = WaveletLossy.decode(&header, &params, &payload).unwrap();
        let psnr = tessera_metrics::psnr(&img, &back).unwrap();
        println!("cut to {bpp} bpp: {psnr:.2} dB");
        assert!(psnr < last + 1e-9, "{bpp} bpp: {psnr:.2} dB after {last:.2}");
        assert!(psnr > 15.0);
        last = psnr;
    }
    assert!(matches!(
        WaveletLossy.truncate(&header, &enc.params, &enc.payload, TruncateTarget::Iterations(3)),
        Err(tessera_core::Error::Unsupported(_))
    ));
    // Any byte cut decodes to an image of the right geometry.
    let small = synthetic(23, 17, 3);
    let enc = WaveletLossy.encode(&small, &EncodeParams::with_quality(80.0)).unwrap();
    let h = Header::for_image("wavelet-lossy", &small, None);
    for n in 0..=enc.payload.len() {
        let back = WaveletLossy.decode(&h, &enc.params, &enc.payload[..n]).unwrap();
        assert_eq!((back.width(), back.height()), (23, 17));
    }
}

#[test]
fn targets_are_met() {
    let img = kodak(5);
    let pixels = img.pixel_count() as f64;
    for &bpp in &[0.25, 1.0] {
        let params = EncodeParams { target_bpp: Some(bpp), ..EncodeParams::default() };
        let bytes = pipeline::compress(&WaveletLossy, &img, &params).unwrap();
        assert!(bytes.len() as f64 * 8.0 <= bpp * pixels);
        assert!(bytes.len() as f64 * 8.0 > 0.9 * bpp * pixels, "{bpp}: {} bytes", bytes.len());
    }
    let params = EncodeParams { target_psnr: Some(32.0), ..EncodeParams::default() };
    let bytes = pipeline::compress(&WaveletLossy, &img, &params).unwrap();
    let back = pipeline::decode_container(&WaveletLossy, &Container::from_bytes(&bytes).unwrap()).unwrap();
    let psnr = pipeline::psnr_rgb(&img, &back);
    assert!((32.0..33.0).contains(&psnr), "{psnr:.2} dB");
}

#[test]
fn corrupt_payloads_never_panic() {
    let img = synthetic(37, 29, 3);
    let enc = WaveletLossy.encode(&img, &EncodeParams::with_quality(70.0)).unwrap();
    let header = Header::for_image("wavelet-lossy", &img, None);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut payload = enc.payload.clone();
        let mut params = enc.params.clone();
        match next() % 4 {
            0 => {
                let n = (next() % (payload.len() as u64 + 1)) as usize;
                payload.truncate(n);
            }
            1 => {
                for _ in 0..1 + next() % 4 {
                    let i = (next() % payload.len() as u64) as usize;
                    payload[i] ^= 1 << (next() % 8);
                }
            }
            2 => {
                let i = (next() % params.len() as u64) as usize;
                params[i] = next() as u8;
            }
            _ => {
                payload = (0..next() % 200).map(|_| next() as u8).collect();
            }
        }
        if let Ok(back) = WaveletLossy.decode(&header, &params, &payload) {
            assert_eq!((back.width(), back.height(), back.channels()), (37, 29, 3));
        }
    }
    let mut bad = header.clone();
    bad.channels = 4;
    assert!(WaveletLossy.decode(&bad, &enc.params, &enc.payload).is_err());
}
