//! `wavelet-lossy`: the CDF 9/7 wavelet codec with an embedded bit-plane stream.
//!
//! The image goes to YCbCr (the irreversible colour transform) on a 0..=255 scale, each plane
//! through up to six levels of the 9/7 lifting wavelet, and every subband is quantised by a
//! dead-zone quantiser (`q = ⌊|c| / step⌋`) whose step is the base step divided by the square
//! root of the subband's synthesis energy and of the channel's weight in the RGB error (so one
//! step costs the same RGB squared error everywhere). The quantised values are coded by the
//! bit-plane coder of [`super::wavelet_bitplane`], bit-plane major across all subbands and
//! channels, so any prefix of the payload decodes to a coarser image:
//! [`Codec::truncate`] cuts to a rate, `target_bpp` is met by the same cut and `target_psnr` by
//! a bisection over cut points.
//!
//! Quality 1..=100 sets the base step (`6 · 2^((100 − q)/22)`); alpha is refused with
//! `Unsupported`; 16-bit input is scaled to the 8-bit range for coding and back on decode.
//!
//! Parameters: version, quality, base step (f32 LE), whole payload length (u32 LE; a shorter
//! payload is a cut stream).

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result, TruncateTarget};
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::wavelet_bitplane::{code_bands, BandState, StoppingDecoder, MAX_PLANES};
use super::wavelet_transform::{forward_2d, inverse_2d, levels_for, subbands, Subband};
use crate::planes::{from_ycbcr, to_ycbcr, Plane};

const VERSION: u8 = 1;
/// Where in its remaining uncertainty interval a coefficient is reconstructed.
const RECONSTRUCTION: f32 = 0.5;
/// Square roots of the weights of Y, Cb and Cr in the summed R, G, B squared error.
const CHANNEL_NORMS: [f32; 3] = [1.732_050_8, 1.805_6, 1.573_2];

/// The lossy wavelet codec.
#[derive(Debug, Default)]
pub struct WaveletLossy;

/// What the decoder reads from the parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Settings {
    quality: u8,
    step: f32,
    full_len: u32,
}

impl Settings {
    fn to_bytes(self) -> Vec<u8> {
        let mut v = vec![VERSION, self.quality];
        v.extend_from_slice(&self.step.to_le_bytes());
        v.extend_from_slice(&self.full_len.to_le_bytes());
        v
    }

    fn from_bytes(b: &[u8]) -> Result<Settings> {
        match b {
            [VERSION, q @ 1..=100, s0, s1, s2, s3, l0, l1, l2, l3] => {
                let step = f32::from_le_bytes([*s0, *s1, *s2, *s3]);
                if !(step.is_finite() && (1e-3..=1e4).contains(&step)) {
                    return Err(Error::corrupt("wavelet-lossy step out of range"));
                }
                Ok(Settings { quality: *q, step, full_len: u32::from_le_bytes([*l0, *l1, *l2, *l3]) })
            }
            _ => Err(Error::corrupt("wavelet-lossy parameters are malformed")),
        }
    }
}

/// The base quantiser step for a quality.
fn step_for_quality(q: f32) -> f32 {
    6.0 * 2f32.powf((100.0 - q) / 22.0)
}

/// Subband layout and per-band steps for a plane of this size.
fn layout(w: usize, h: usize) -> (usize, Vec<Subband>) {
    let levels = levels_for(w, h);
    (levels, subbands(w, h, levels))
}

fn band_step(base: f32, band: &Subband, channel: usize, channels: usize) -> f32 {
    let norm = if channels == 1 { 1.0 } else { CHANNEL_NORMS[channel] };
    base / (band.energy.sqrt() * norm)
}

/// Encodes with the given base step, returning the payload.
fn encode_planes(planes: &[Plane], base: f32) -> Vec<u8> {
    let (w, h) = (planes[0].width, planes[0].height);
    let (levels, bands) = layout(w, h);
    let mut states = Vec::with_capacity(bands.len() * planes.len());
    let mut coeffs = Vec::with_capacity(planes.len());
    for plane in planes {
        let mut d: Vec<f32> = plane.data.iter().map(|v| v - 128.0).collect();
        forward_2d(&mut d, w, h, levels);
        coeffs.push(d);
    }
    // Luma is centred by the 128 offset; chroma planes are already centred, undo the offset.
    for c in 1..planes.len() {
        let (lw, lh) = (bands[0].w, bands[0].h);
        let gain = bands[0].energy.sqrt();
        for y in 0..lh {
            for x in 0..lw {
                coeffs[c][y * w + x] += 128.0 * gain;
            }
        }
    }
    let mut vals = Vec::new();
    for band in &bands {
        for (c, d) in coeffs.iter().enumerate() {
            let step = band_step(base, band, c, planes.len());
            vals.clear();
            for y in 0..band.h {
                let row = &d[(band.y0 + y) * w + band.x0..(band.y0 + y) * w + band.x0 + band.w];
                vals.extend(row.iter().map(|&v| {
                    let q = (v.abs() / step) as i32;
                    if v < 0.0 {
                        -q
                    } else {
                        q
                    }
                }));
            }
            let mut s = BandState::new(band.w, band.h, band.orient, std::ptr::eq(band, &bands[0]), c > 0);
            s.set_values(&vals);
            states.push(s);
        }
    }
    let mut enc = RangeEncoder::new();
    for s in &states {
        enc.encode_raw(u32::from(s.nbits), 5);
    }
    code_bands(&mut states, &mut enc);
    enc.finish()
}

/// Decodes planes of size `w × h` from a payload (a prefix of one when `cut`).
fn decode_planes(w: usize, h: usize, channels: usize, base: f32, payload: &[u8], cut: bool) -> Result<Vec<Plane>> {
    let (levels, bands) = layout(w, h);
    let mut io = StoppingDecoder { dec: RangeDecoder::new(payload), cut };
    let mut states = Vec::with_capacity(bands.len() * channels);
    for (k, band) in bands.iter().enumerate() {
        for c in 0..channels {
            states.push(BandState::new(band.w, band.h, band.orient, k == 0, c > 0));
        }
    }
    let nbits: Vec<u8> = (0..states.len()).map(|_| io.dec.decode_raw(5) as u8).collect();
    // A stream cut inside the band table decodes to a flat image.
    if !(cut && io.dec.overrun() > 0) {
        if nbits.iter().any(|&n| n > MAX_PLANES) {
            return Err(Error::corrupt("wavelet-lossy band has too many bit-planes"));
        }
        for (s, n) in states.iter_mut().zip(nbits) {
            s.nbits = n;
        }
        let complete = code_bands(&mut states, &mut io);
        if !cut && (!complete || io.dec.check_end().is_err()) {
            return Err(Error::Truncated("wavelet-lossy payload ends early".into()));
        }
    }
    let mut coeffs = vec![vec![0f32; w * h]; channels];
    let mut buf = Vec::new();
    for (k, band) in bands.iter().enumerate() {
        buf.resize(band.w * band.h, 0.0);
        for (c, d) in coeffs.iter_mut().enumerate() {
            let step = band_step(base, band, c, channels);
            states[k * channels + c].reconstruct(&mut buf, RECONSTRUCTION);
            for y in 0..band.h {
                let row = (band.y0 + y) * w + band.x0;
                for x in 0..band.w {
                    d[row + x] = buf[y * band.w + x] * step;
                }
            }
        }
    }
    let gain = bands[0].energy.sqrt();
    Ok(coeffs
        .into_iter()
        .enumerate()
        .map(|(c, mut d)| {
            if c > 0 {
                for y in 0..bands[0].h {
                    for x in 0..bands[0].w {
                        d[y * w + x] -= 128.0 * gain;
                    }
                }
            }
            inverse_2d(&mut d, w, h, levels);
            Plane { width: w, height: h, data: d.into_iter().map(|v| v + 128.0).collect() }
        })
        .collect())
}

/// Bytes a container adds around this codec's parameters and payload (no model tag).
fn container_overhead(codec: &str, params_len: usize) -> usize {
    // magic, version, name length + name, width, height, frames, channels, depth, flags,
    // params length + params, payload length, CRC.
    8 + 1 + 1 + codec.len() + 12 + 3 + 4 + params_len + 8 + 4
}

/// Plane geometry of a header: (width, total height, planes).
fn geometry(header: &Header) -> Result<(usize, usize, usize)> {
    let channels = match header.channels {
        1 => 1,
        3 => 3,
        _ => return Err(Error::Unsupported("wavelet-lossy codes gray or RGB images only".into())),
    };
    let w = header.width as usize;
    let h = header.height as usize * header.frames as usize;
    if w == 0 || h == 0 {
        return Err(Error::corrupt("wavelet-lossy image is empty"));
    }
    Ok((w, h, channels))
}

impl WaveletLossy {
    /// The payload length that fits `bpp` for this header and parameters.
    fn budget(&self, header: &Header, params_len: usize, bpp: f64) -> Result<usize> {
        if !(bpp.is_finite() && bpp > 0.0) {
            return Err(Error::InvalidParam(format!("target bpp must be positive, not {bpp}")));
        }
        let total = (bpp * header.pixel_count() as f64 / 8.0).floor() as usize;
        let overhead = container_overhead(self.name(), params_len);
        total.checked_sub(overhead).ok_or_else(|| {
            Error::InvalidParam(format!("{bpp} bpp is below the container's own {overhead} bytes"))
        })
    }
}

impl Codec for WaveletLossy {
    fn name(&self) -> &'static str {
        "wavelet-lossy"
    }
    fn summary(&self) -> &'static str {
        "CDF 9/7 wavelet in YCbCr, embedded context-coded bit-planes, truncatable to any rate"
    }
    fn is_lossless(&self) -> bool {
        false
    }
    fn handles_targets(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let quality = params.quality_or(75.0)?;
        let planes = to_ycbcr(image)?;
        let header = Header::for_image(self.name(), image, None);
        let targeted = params.target_bpp.is_some() || params.target_psnr.is_some();
        // A target is met by cutting a finely quantised stream.
        let quality = if targeted && params.quality.is_none() { 100.0 } else { quality };
        let step = params.option::<f32>("step", step_for_quality(quality))?;
        if !(step.is_finite() && (1e-3..=1e4).contains(&step)) {
            return Err(Error::InvalidParam(format!("step must be in 0.001..=10000, not {step}")));
        }
        let payload = encode_planes(&planes, step);
        let settings = Settings {
            quality: quality.round().clamp(1.0, 100.0) as u8,
            step,
            full_len: u32::try_from(payload.len()).map_err(|_| Error::Limit("payload over 4 GiB".into()))?,
        };
        let params_bytes = settings.to_bytes();
        if let Some(bpp) = params.target_bpp {
            let (p, payload) = self.truncate(&header, &params_bytes, &payload, TruncateTarget::Bpp(bpp))?;
            return Ok(Encoded { params: p, payload, model: None });
        }
        if let Some(target) = params.target_psnr {
            let payload = cut_for_psnr(self, &header, &params_bytes, &payload, image, target)?;
            return Ok(Encoded { params: params_bytes, payload, model: None });
        }
        Ok(Encoded { params: params_bytes, payload, model: None })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let s = Settings::from_bytes(params)?;
        let (w, h, channels) = geometry(header)?;
        let cut = payload.len() < s.full_len as usize;
        let planes = decode_planes(w, h, channels, s.step, payload, cut)?;
        from_ycbcr(&planes, header.width, header.height, header.frames, header.bit_depth)
    }

    fn truncate(
        &self,
        header: &Header,
        params: &[u8],
        payload: &[u8],
        target: TruncateTarget,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        Settings::from_bytes(params)?;
        match target {
            TruncateTarget::Bpp(bpp) => {
                let keep = self.budget(header, params.len(), bpp)?.min(payload.len());
                Ok((params.to_vec(), payload[..keep].to_vec()))
            }
            TruncateTarget::Iterations(_) => {
                Err(Error::Unsupported("wavelet-lossy is cut by rate, not by iterations".into()))
            }
        }
    }
}

/// The shortest prefix of `payload` whose decoded image reaches `target` dB PSNR (the whole
/// payload when none does), found by bisection over the cut point.
fn cut_for_psnr(
    codec: &WaveletLossy,
    header: &Header,
    params: &[u8],
    payload: &[u8],
    image: &Image,
    target: f64,
) -> Result<Vec<u8>> {
    let psnr = |n: usize| -> Result<f64> {
        let decoded = codec.decode(header, params, &payload[..n])?;
        Ok(tessera_core::pipeline::psnr_rgb(image, &decoded))
    };
    let (mut lo, mut hi) = (0usize, payload.len());
    if psnr(hi)? < target {
        return Ok(payload.to_vec());
    }
    while hi - lo > 16.max(payload.len() / 1000) {
        let mid = lo + (hi - lo) / 2;
        if psnr(mid)? >= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(payload[..hi].to_vec())
}
