//! The path from an image to container bytes and back, shared by the CLI and the lab.

use crate::{hex, Codec, Container, EncodeParams, Error, Header, Image, Result};

/// Encodes `image` with `codec` into container bytes. When the codec does not meet
/// `target_bpp` / `target_psnr` itself, the quality is searched by bisection.
pub fn compress(codec: &dyn Codec, image: &Image, params: &EncodeParams) -> Result<Vec<u8>> {
    let has_target = params.target_bpp.is_some() || params.target_psnr.is_some();
    if !has_target || codec.handles_targets() || codec.is_lossless() {
        return encode_container(codec, image, params);
    }
    search_quality(codec, image, params)
}

/// Encodes once with `params` as given (no search) into container bytes.
pub fn encode_container(codec: &dyn Codec, image: &Image, params: &EncodeParams) -> Result<Vec<u8>> {
    let enc = codec.encode(image, params)?;
    let header = Header::for_image(codec.name(), image, enc.model);
    Container { header, params: enc.params, payload: enc.payload }.to_bytes()
}

/// Bisects the quality for the highest one whose file meets `target_bpp` (at most that many bits
/// per pixel) or the lowest one that meets `target_psnr`.
fn search_quality(codec: &dyn Codec, image: &Image, params: &EncodeParams) -> Result<Vec<u8>> {
    let pixels = image.pixel_count() as f64;
    let meets = |bytes: &[u8]| -> Result<bool> {
        if let Some(bpp) = params.target_bpp {
            if bytes.len() as f64 * 8.0 / pixels > bpp {
                return Ok(false);
            }
        }
        if let Some(psnr) = params.target_psnr {
            let back = decode_container(codec, &Container::from_bytes(bytes)?)?;
            if psnr_rgb(image, &back) < psnr {
                return Ok(false);
            }
        }
        Ok(true)
    };
    let encode_at = |q: f32| {
        let p = EncodeParams { quality: Some(q), target_bpp: None, target_psnr: None, ..params.clone() };
        encode_container(codec, image, &p)
    };
    // With a bpp target the answer is the highest quality that fits; with only a PSNR target,
    // the lowest quality that reaches it.
    let want_high = params.target_bpp.is_some();
    let (mut lo, mut hi) = (1.0f32, 100.0f32);
    let mut best: Option<Vec<u8>> = None;
    for _ in 0..12 {
        let mid = (lo + hi) / 2.0;
        let bytes = encode_at(mid)?;
        let ok = meets(&bytes)?;
        if ok == want_high {
            if ok {
                best = Some(bytes);
            }
            lo = mid;
        } else {
            if ok {
                best = Some(bytes);
            }
            hi = mid;
        }
    }
    match best {
        Some(b) => Ok(b),
        None => {
            let edge = if want_high { 1.0 } else { 100.0 };
            let bytes = encode_at(edge)?;
            if meets(&bytes)? {
                Ok(bytes)
            } else {
                Err(Error::InvalidParam("no quality meets the target".into()))
            }
        }
    }
}

/// Decodes a parsed container with `codec`, checking the model tag of learned codecs and that the
/// decoded image has the geometry the container declares.
pub fn decode_container(codec: &dyn Codec, c: &Container) -> Result<Image> {
    if codec.name() != c.header.codec {
        return Err(Error::UnknownCodec(c.header.codec.clone()));
    }
    if let Some(want) = &c.header.model {
        match codec.model(&c.params) {
            Some(have) if have == *want => {}
            have => {
                return Err(Error::ModelMismatch {
                    expected: format!("{} {}", want.name, hex(&want.hash[..8])),
                    found: have
                        .map(|h| format!("{} {}", h.name, hex(&h.hash[..8])))
                        .unwrap_or_else(|| "no model".into()),
                })
            }
        }
    }
    let img = codec.decode(&c.header, &c.params, &c.payload)?;
    let h = &c.header;
    if (img.width(), img.height(), img.frames(), img.channels(), img.bit_depth())
        != (h.width, h.height, h.frames, h.channels, h.bit_depth)
    {
        return Err(Error::corrupt("decoded image differs from the container's geometry"));
    }
    Ok(img)
}

/// RGB PSNR in dB over all channels (used by quality searches; the lab has the full metrics).
pub fn psnr_rgb(a: &Image, b: &Image) -> f64 {
    let max = f64::from(a.max_value());
    let n = a.samples().len() as f64;
    let se: f64 = a
        .samples()
        .iter()
        .zip(b.samples())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    if se == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (max * max / (se / n)).log10()
    }
}
