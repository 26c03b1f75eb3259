//! The `dct` codec: round trips on odd, tiny, gray and colour images; PSNR rising with quality
//! on every Kodak image; corrupt payloads give an error or an image of the declared geometry.

use std::path::PathBuf;

use tessera_classic::lossy::dct::Dct;
use tessera_core::{pipeline, Codec, Container, EncodeParams, Image};

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

fn round_trip(img: &Image, params: &EncodeParams) -> (usize, f64) {
    let bytes = pipeline::compress(&Dct, img, params).unwrap();
    let c = Container::from_bytes(&bytes).unwrap();
    let back = pipeline::decode_container(&Dct, &c).unwrap();
    assert_eq!(
        (back.width(), back.height(), back.channels()),
        (img.width(), img.height(), img.channels())
    );
    (bytes.len(), tessera_metrics::psnr(img, &back).unwrap())
}

#[test]
fn round_trips_on_odd_tiny_gray_and_colour() {
    for &(w, h) in &[(1, 1), (2, 3), (7, 5), (17, 9), (33, 65), (64, 64)] {
        for &ch in &[1u8, 3] {
            let img = synthetic(w, h, ch);
            for &q in &[5.0, 50.0, 95.0] {
                for sub in ["420", "444"] {
                    let mut p = EncodeParams::with_quality(q);
                    p.options.insert("subsampling".into(), sub.into());
                    let (_, psnr) = round_trip(&img, &p);
                    if q >= 95.0 && (w, h) == (64, 64) {
                        assert!(psnr > 35.0, "{w}x{h}x{ch} q{q} {sub}: {psnr:.2} dB");
                    }
                }
            }
        }
    }
}

#[test]
fn alpha_is_refused_and_bad_options_rejected() {
    let img = Image::new(4, 4, 4, 8, vec![100; 64]).unwrap();
    assert!(Dct.encode(&img, &EncodeParams::with_quality(50.0)).is_err());
    let mut p = EncodeParams::with_quality(50.0);
    p.options.insert("subsampling".into(), "411".into());
    assert!(Dct.encode(&synthetic(8, 8, 3), &p).is_err());
    let mut p = EncodeParams::with_quality(50.0);
    p.options.insert("deblock".into(), "2".into());
    assert!(Dct.encode(&synthetic(8, 8, 3), &p).is_err());
}

#[test]
fn deblocking_and_zeroing_search_keep_round_trips_sound() {
    let img = synthetic(45, 37, 3);
    for effort in [1u8, 5, 9] {
        for deblock in ["0", "1"] {
            let mut p = EncodeParams::with_quality(30.0);
            p.effort = effort;
            p.options.insert("deblock".into(), deblock.into());
            let (_, psnr) = round_trip(&img, &p);
            assert!(psnr > 25.0, "effort {effort} deblock {deblock}: {psnr:.2} dB");
        }
    }
    // The zeroing search only removes coefficients, so it never makes the payload larger
    // by more than the adaptive contexts' drift.
    let mut fast = EncodeParams::with_quality(60.0);
    fast.effort = 1;
    let a = Dct.encode(&img, &fast).unwrap().payload.len();
    let b = Dct
        .encode(&img, &EncodeParams::with_quality(60.0))
        .unwrap()
        .payload
        .len();
    assert!(b <= a + a / 50, "effort 5 payload {b} vs effort 1 payload {a}");
}

#[test]
fn sixteen_bit_input_is_scaled() {
    let img8 = synthetic(24, 16, 3);
    let img16 = Image::new(24, 16, 3, 16, img8.samples().iter().map(|&v| v * 257).collect()).unwrap();
    let (_, psnr) = round_trip(&img16, &EncodeParams::with_quality(90.0));
    assert!(psnr > 30.0, "{psnr:.2}");
}

#[test]
fn psnr_rises_with_quality_on_every_kodak_image() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/kodak");
    for i in 1..=24 {
        let img = tessera_core::io::read_image(&dir.join(format!("kodim{i:02}.png"))).unwrap();
        let mut last = (0usize, 0f64);
        for &q in &[10.0, 40.0, 75.0, 95.0] {
            let (size, psnr) = round_trip(&img, &EncodeParams::with_quality(q));
            assert!(
                psnr > last.1 && size > last.0,
                "kodim{i:02} q{q}: {psnr:.2} dB, {size} bytes"
            );
            last = (size, psnr);
        }
    }
}

#[test]
fn corrupt_payloads_never_panic() {
    let img = synthetic(37, 29, 3);
    let enc = Dct.encode(&img, &EncodeParams::with_quality(60.0)).unwrap();
    let bytes = pipeline::compress(&Dct, &img, &EncodeParams::with_quality(60.0)).unwrap();
    let header = Container::from_bytes(&bytes).unwrap().header;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut payload = enc.payload.clone();
        match next() % 3 {
            0 => {
                let i = next() as usize % payload.len();
                payload[i] ^= 1 << (next() % 8);
            }
            1 => payload.truncate(next() as usize % payload.len()),
            _ => payload.iter_mut().for_each(|b| *b = next() as u8),
        }
        if let Ok(out) = Dct.decode(&header, &enc.params, &payload) {
            assert_eq!((out.width(), out.height(), out.channels()), (37, 29, 3));
        }
    }
    for params in [
        vec![],
        vec![1, 50, 0],
        vec![2, 50, 0],
        vec![2, 50, 0, 2],
        vec![2, 0, 0, 0],
        vec![1, 0, 0],
        vec![1, 101, 0],
        vec![1, 50, 2],
        vec![9, 50, 0],
    ] {
        assert!(Dct.decode(&header, &params, &enc.payload).is_err());
    }
}
