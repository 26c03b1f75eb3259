//! Test codecs and recipes shared by the lab's integration tests.
#![allow(dead_code)]

use tessera_core::{Codec, EncodeParams, Encoded, Header, Image};
use tessera_lab::dataset::Item;
use tessera_lab::reference::{FileKind, Reference};

/// Stores 8-bit samples as bytes: lossless.
pub struct Raw;

impl Codec for Raw {
    fn name(&self) -> &'static str {
        "raw-test"
    }
    fn summary(&self) -> &'static str {
        "raw bytes"
    }
    fn is_lossless(&self) -> bool {
        true
    }
    fn encode(&self, image: &Image, _: &EncodeParams) -> tessera_core::Result<Encoded> {
        Ok(Encoded { payload: image.samples().iter().map(|&s| s as u8).collect(), ..Encoded::default() })
    }
    fn decode(&self, h: &Header, _: &[u8], payload: &[u8]) -> tessera_core::Result<Image> {
        Image::with_frames(h.width, h.height, h.frames, h.channels, 8, payload.iter().map(|&b| u16::from(b)).collect())
    }
}

/// Drops the low `8 - q/15` bits: lossy, rate independent of quality, panics at quality 13.
pub struct Coarse;

impl Codec for Coarse {
    fn name(&self) -> &'static str {
        "coarse-test"
    }
    fn summary(&self) -> &'static str {
        "keeps the high bits"
    }
    fn is_lossless(&self) -> bool {
        false
    }
    fn encode(&self, image: &Image, p: &EncodeParams) -> tessera_core::Result<Encoded> {
        let q = p.quality_or(50.0)?;
        assert!(q != 13.0, "unlucky quality");
        // `--set shift=N` overrides the quality's shift (a codec option for the bench to pass).
        let shift = p.option("shift", 8 - (q / 15.0).clamp(1.0, 7.0) as u32)?.min(7);
        let payload = image.samples().iter().map(|&s| ((s >> shift) << shift) as u8).collect();
        Ok(Encoded { params: vec![shift as u8], payload, model: None })
    }
    fn decode(&self, h: &Header, _: &[u8], payload: &[u8]) -> tessera_core::Result<Image> {
        Image::with_frames(h.width, h.height, h.frames, h.channels, 8, payload.iter().map(|&b| u16::from(b)).collect())
    }
}

pub fn items() -> Vec<Item> {
    let px = |seed: usize| -> Vec<u8> { (0..40 * 32 * 3).map(|i| ((i * 31 + seed * 7 + i / 40) % 256) as u8).collect() };
    (0..2)
        .map(|k| Item { name: format!("img{k}"), image: Image::from_u8(40, 32, 3, &px(k)).unwrap() })
        .collect()
}

pub fn recipe(name: &str, encode: &[&str], decode: Option<&[&str]>) -> Reference {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Reference {
        name: name.into(),
        description: "test recipe".into(),
        lossless: true,
        knob: String::new(),
        range: (0.0, 0.0),
        ladder: vec![],
        input: FileKind::Pnm,
        ext: "bin".into(),
        encode: s(encode),
        decode: decode.map(s),
        output: FileKind::Pnm,
        ffmpeg_encoder: None,
        version: vec![],
        library: None,
    }
}

