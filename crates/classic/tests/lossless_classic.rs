//! Bit-exact round trips of the classical lossless codecs (and `lossless` at its three fast
//! efforts) on Kodak, MNIST and made edge cases, and a corruption suite for each decoder.

use std::path::PathBuf;

use tessera_classic::lossless::{
    blend::Blend, calic::Calic, huffman::Huffman, lzw::Lzw, predictive::Predictive, rle::Rle,
    wavelet::Wavelet,
};
use tessera_core::{Codec, EncodeParams, Encoded, Header, Image, Result};

/// `lossless` at a fast effort (0, 1 or 2), each of which has a coder of its own: every test here
/// runs them with whatever else the test sets.
struct FastLossless(u8);

impl Codec for FastLossless {
    fn name(&self) -> &'static str {
        Blend.name()
    }
    fn summary(&self) -> &'static str {
        Blend.summary()
    }
    fn is_lossless(&self) -> bool {
        true
    }
    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        Blend.encode(image, &EncodeParams { effort: self.0, ..params.clone() })
    }
    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        Blend.decode(header, params, payload)
    }
}

fn codecs() -> Vec<Box<dyn Codec>> {
    vec![
        Box::new(Rle),
        Box::new(Lzw),
        Box::new(Huffman),
        Box::new(Predictive),
        Box::new(Calic),
        Box::new(Wavelet),
        Box::new(FastLossless(2)),
        Box::new(FastLossless(1)),
        Box::new(FastLossless(0)),
    ]
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// Encodes and decodes `img`, asserting the result is identical; returns the payload size.
fn round_trip(codec: &dyn Codec, img: &Image, what: &str) -> usize {
    let e = codec
        .encode(img, &EncodeParams::default())
        .unwrap_or_else(|err| panic!("{} encode {what}: {err}", codec.name()));
    let header = Header::for_image(codec.name(), img, None);
    let back = codec
        .decode(&header, &e.params, &e.payload)
        .unwrap_or_else(|err| panic!("{} decode {what}: {err}", codec.name()));
    assert!(back == *img, "{} is not lossless on {what}", codec.name());
    e.payload.len()
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
}

fn image(w: u32, h: u32, c: u8, depth: u8, f: impl Fn(u32, u32, u8) -> u32) -> Image {
    let max = (1u32 << depth) - 1;
    let mut s = Vec::new();
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                s.push((f(x, y, ch) % (max + 1)) as u16);
            }
        }
    }
    Image::new(w, h, c, depth, s).unwrap()
}

fn made_images() -> Vec<(String, Image)> {
    let mut out = Vec::new();
    let noise = |seed: u64| {
        let rng = std::cell::RefCell::new(Lcg(seed));
        move |_: u32, _: u32, _: u8| rng.borrow_mut().next()
    };
    for (c, depth) in [
        (1u8, 8u8),
        (2, 8),
        (3, 8),
        (4, 8),
        (1, 16),
        (2, 16),
        (3, 16),
        (4, 16),
    ] {
        let tag = format!("{c}ch{depth}bit");
        for (w, h) in [(1, 1), (1, 9), (9, 1), (2, 2), (3, 5), (17, 13), (64, 3)] {
            out.push((
                format!("{tag} smooth {w}x{h}"),
                image(w, h, c, depth, |x, y, ch| {
                    x * 13 + y * 7 + u32::from(ch) * 50
                }),
            ));
        }
        out.push((
            format!("{tag} constant"),
            image(31, 23, c, depth, |_, _, _| 77),
        ));
        out.push((
            format!("{tag} noise"),
            image(
                33,
                21,
                c,
                depth,
                noise(u64::from(c) * 100 + u64::from(depth)),
            ),
        ));
        out.push((
            format!("{tag} one colour per row"),
            image(40, 30, c, depth, |_, y, ch| {
                (y * 37 + u32::from(ch) * 91) * 131
            }),
        ));
        out.push((
            format!("{tag} extremes"),
            image(19, 11, c, depth, |x, y, _| {
                if (x + y) % 2 == 0 {
                    0
                } else {
                    u32::MAX
                }
            }),
        ));
    }
    out.push((
        "16-bit ramp".into(),
        image(300, 40, 1, 16, |x, y, _| x * 200 + y),
    ));
    out.push((
        "16-bit RGB ramps".into(),
        image(130, 70, 3, 16, |x, y, c| x * 500 + y * 300 * u32::from(c)),
    ));
    out.push((
        "RGBA varying alpha".into(),
        image(45, 37, 4, 8, |x, y, c| {
            if c == 3 {
                x * 5 + y
            } else {
                x * 3 + y * u32::from(c)
            }
        }),
    ));
    out.push((
        "gray+alpha".into(),
        image(
            29,
            31,
            2,
            8,
            |x, y, c| if c == 1 { (x / 4) * 60 } else { x ^ y },
        ),
    ));
    let frames: Vec<Image> = (0..5)
        .map(|k| image(7, 6, 1, 8, move |x, y, _| x * k + y))
        .collect();
    out.push(("frame stack".into(), Image::stack(&frames).unwrap()));
    out
}

#[test]
fn made_edge_cases_round_trip() {
    for codec in codecs() {
        for (what, img) in made_images() {
            round_trip(codec.as_ref(), &img, &what);
        }
    }
}

#[test]
fn every_colour_transform_choice_round_trips() {
    let img = image(37, 29, 3, 8, |x, y, c| {
        x * 5 + y * 3 + u32::from(c) * (x % 7)
    });
    let rgba16 = image(21, 19, 4, 16, |x, y, c| {
        x * 2000 + y * 900 + u32::from(c) * 7000
    });
    for codec in codecs() {
        for choice in ["auto", "none", "ycocg"] {
            let mut params = EncodeParams::default();
            params.options.insert("transform".into(), choice.into());
            for img in [&img, &rgba16] {
                let e = codec.encode(img, &params).unwrap();
                assert_eq!(
                    e.params[1],
                    u8::from(choice == "ycocg" || (choice == "auto" && e.params[1] == 1))
                );
                let back = codec
                    .decode(
                        &Header::for_image(codec.name(), img, None),
                        &e.params,
                        &e.payload,
                    )
                    .unwrap();
                assert!(back == *img, "{} with transform={choice}", codec.name());
            }
        }
        let mut bad = EncodeParams::default();
        bad.options.insert("transform".into(), "xyz".into());
        assert!(codec.encode(&img, &bad).is_err());
    }
}

#[test]
fn kodak_round_trips() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(data_dir().join("kodak"))
        .expect("data/kodak")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 24);
    for path in &paths {
        let img = tessera_core::io::read_image(path).unwrap();
        let raw = img.samples().len();
        for codec in codecs() {
            let size = round_trip(codec.as_ref(), &img, &path.display().to_string());
            // Every codec but run-length and LZW must compress a photograph well below 8 bpsp.
            let bpsp = size as f64 * 8.0 / raw as f64;
            let bound = if matches!(codec.name(), "rle" | "lzw") {
                8.0
            } else {
                6.0
            };
            assert!(
                bpsp < bound,
                "{} at {bpsp:.2} bpsp on {}",
                codec.name(),
                path.display()
            );
        }
    }
}

#[test]
fn mnist_digits_round_trip() {
    let all =
        tessera_core::io::read_image(&data_dir().join("mnist/t10k-images-idx3-ubyte.gz")).unwrap();
    let digits: Vec<Image> = (0..300).map(|i| all.frame(i).unwrap()).collect();
    let stack = Image::stack(&digits).unwrap();
    for codec in codecs() {
        for (i, d) in digits.iter().enumerate() {
            round_trip(codec.as_ref(), d, &format!("MNIST digit {i}"));
        }
        round_trip(codec.as_ref(), &stack, "300 MNIST digits as frames");
    }
}

/// Decodes damaged streams: every result must be an error or an image of the declared geometry.
#[test]
fn corrupt_streams_are_errors_not_panics() {
    let mut rng = Lcg(99);
    let images = [
        image(23, 17, 3, 8, |x, y, c| {
            x * 9 + y * 4 + u32::from(c) * 30 + (x * y) % 7
        }),
        image(11, 9, 2, 16, |x, y, c| (x * 3000 + y * 700) ^ u32::from(c)),
    ];
    for codec in codecs() {
        for img in &images {
            let e = codec.encode(img, &EncodeParams::default()).unwrap();
            let header = Header::for_image(codec.name(), img, None);
            let check = |params: &[u8], payload: &[u8]| {
                if let Ok(out) = codec.decode(&header, params, payload) {
                    assert_eq!(
                        (out.width(), out.height(), out.channels(), out.bit_depth()),
                        (img.width(), img.height(), img.channels(), img.bit_depth())
                    );
                }
            };
            for _ in 0..700 {
                // Truncation.
                let cut = rng.next() as usize % (e.payload.len() + 1);
                check(&e.params, &e.payload[..cut]);
                // Bit flips.
                let mut flipped = e.payload.clone();
                for _ in 0..1 + rng.next() % 4 {
                    if !flipped.is_empty() {
                        let i = rng.next() as usize % flipped.len();
                        flipped[i] ^= 1 << (rng.next() % 8);
                    }
                }
                check(&e.params, &flipped);
                // Random payloads.
                let random: Vec<u8> = (0..rng.next() % 300).map(|_| rng.next() as u8).collect();
                check(&e.params, &random);
                // Random parameters.
                let params: Vec<u8> = (0..rng.next() % 4)
                    .map(|_| (rng.next() % 3) as u8)
                    .collect();
                check(&params, &e.payload);
            }
            // A header that declares a larger image than the stream holds.
            let mut big = header.clone();
            big.width = 4000;
            big.height = 3000;
            assert!(
                codec.decode(&big, &e.params, &e.payload).is_err(),
                "{} accepts a short stream",
                codec.name()
            );
        }
    }
}
