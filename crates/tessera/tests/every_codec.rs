//! Checks that hold for every registered codec: round trips on awkward images (exact for
//! lossless codecs) and no panic or hang on corrupt payloads.

use std::sync::mpsc;
use std::time::Duration;

use tessera::registry;
use tessera_core::{pipeline, Codec, Container, EncodeParams, Error, Image};

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

/// Small images that break naive codecs.
fn edge_images() -> Vec<(&'static str, Image)> {
    let mut seed = 42;
    let noise = |w: u32, h: u32, c: u8, depth: u8, seed: &mut u64| {
        let max = if depth == 8 { 256 } else { 65536 };
        let s = (0..w * h * u32::from(c)).map(|_| (lcg(seed) % max) as u16).collect();
        Image::new(w, h, c, depth, s).unwrap()
    };
    let rows = |w: u32, h: u32| {
        let s = (0..h).flat_map(|y| (0..w).flat_map(move |_| [(y * 40 % 256) as u16, (y * 7 % 256) as u16, 200])).collect();
        Image::new(w, h, 3, 8, s).unwrap()
    };
    let ramp16 = Image::new(67, 5, 1, 16, (0..67 * 5).map(|i| (i * 193) as u16).collect()).unwrap();
    let alpha = {
        let s = (0..17 * 9)
            .flat_map(|i| [(i * 3 % 256) as u16, (i % 256) as u16, 128, (i * 11 % 256) as u16])
            .collect();
        Image::new(17, 9, 4, 8, s).unwrap()
    };
    vec![
        ("1x1 gray", Image::from_u8(1, 1, 1, &[77]).unwrap()),
        ("1x1 rgb", Image::from_u8(1, 1, 3, &[1, 200, 3]).unwrap()),
        ("1x23 rgb", noise(1, 23, 3, 8, &mut seed)),
        ("31x1 gray", noise(31, 1, 1, 8, &mut seed)),
        ("odd 13x11 rgb", noise(13, 11, 3, 8, &mut seed)),
        ("constant", Image::from_u8(20, 20, 3, &[9; 1200]).unwrap()),
        ("noise 40x30 gray", noise(40, 30, 1, 8, &mut seed)),
        ("one colour per row", rows(33, 17)),
        ("16-bit ramp", ramp16),
        ("rgba varying alpha", alpha),
        ("gray+alpha", noise(9, 7, 2, 8, &mut seed)),
        ("16-bit rgb noise", noise(11, 6, 3, 16, &mut seed)),
    ]
}

/// Runs `f` on another thread, failing the test if it does not finish in `secs`.
fn within<T: Send + 'static>(secs: u64, what: String, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs)).unwrap_or_else(|_| panic!("{what}: hung or panicked"))
}

fn accepts(codec: &dyn Codec, image: &Image) -> Option<Vec<u8>> {
    match pipeline::compress(codec, image, &EncodeParams::default()) {
        Ok(bytes) => Some(bytes),
        // A codec may refuse a format it does not handle, or need weights it does not have,
        // but it must say so with an error, not a panic.
        Err(Error::Unsupported(_)) => None,
        Err(e) => panic!("{} failed to encode: {e}", codec.name()),
    }
}

#[test]
fn codec_names_are_unique_and_well_formed() {
    let mut names: Vec<&str> = Vec::new();
    let codecs = registry::codecs();
    for c in &codecs {
        assert!(!names.contains(&c.name()), "two codecs are called '{}'", c.name());
        assert!(c.name().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        assert!(!c.summary().is_empty());
        names.push(c.name());
    }
    assert!(registry::find(registry::DEFAULT_LOSSLESS).unwrap().is_lossless());
}

#[test]
fn every_codec_round_trips_awkward_images() {
    for codec in registry::codecs() {
        for (what, image) in edge_images() {
            let Some(bytes) = accepts(codec.as_ref(), &image) else { continue };
            let back = registry::decompress(&bytes)
                .unwrap_or_else(|e| panic!("{} on {what}: {e}", codec.name()));
            assert_eq!(
                (back.width(), back.height(), back.channels(), back.bit_depth()),
                (image.width(), image.height(), image.channels(), image.bit_depth()),
                "{} on {what}",
                codec.name()
            );
            if codec.is_lossless() {
                assert!(back == image, "{} is not lossless on {what}", codec.name());
            }
        }
    }
}

#[test]
fn every_decoder_survives_corrupt_payloads() {
    let mut seed = 7;
    let image = edge_images().into_iter().find(|(w, _)| *w == "odd 13x11 rgb").unwrap().1;
    for codec in registry::codecs() {
        let Some(bytes) = accepts(codec.as_ref(), &image) else { continue };
        let good = Container::from_bytes(&bytes).unwrap();
        let name = codec.name().to_string();
        let mut cases = Vec::new();
        for i in 0..1500 {
            let mut c = good.clone();
            let p = &mut c.payload;
            match i % 3 {
                0 if !p.is_empty() => {
                    let n = lcg(&mut seed) as usize % p.len();
                    p.truncate(n);
                }
                1 if !p.is_empty() => {
                    for _ in 0..1 + lcg(&mut seed) % 4 {
                        let k = lcg(&mut seed) as usize % p.len();
                        p[k] ^= 1 << (lcg(&mut seed) % 8);
                    }
                }
                _ => {
                    let n = lcg(&mut seed) as usize % (p.len() + 16);
                    *p = (0..n).map(|_| lcg(&mut seed) as u8).collect();
                }
            }
            if i % 50 == 0 && !c.params.is_empty() {
                let k = lcg(&mut seed) as usize % c.params.len();
                c.params[k] ^= 0xFF;
            }
            cases.push(c.to_bytes().unwrap());
        }
        within(120, format!("{name} corrupt payloads"), move || {
            for case in cases {
                // Either an error or an image of the declared geometry (checked by decompress).
                let _ = registry::decompress(&case);
            }
        });
    }
}
