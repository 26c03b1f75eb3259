//! `calic`: CALIC-class context modelling with adaptive arithmetic coding.
//!
//! Each plane (after YCoCg-R when it helps) is coded in raster order:
//! 1. Gradient-adjusted prediction (GAP): the horizontal and vertical gradient estimates
//!    dh = |W − WW| + |N − NW| + |N − NE| and dv = |W − NW| + |N − NN| + |NE − NNE| choose between
//!    W, N and blends of them with (W + N)/2 + (NE − NW)/4, sharp edges taking one neighbour.
//! 2. Error energy Δ = dh + dv + 2|e_W| (e_W the previous residual) quantised to eight levels.
//! 3. Context bias cancellation: a texture pattern (eight neighbours or extrapolations above or
//!    below the prediction) with Δ/2 selects one of 1,024 contexts whose mean error corrects
//!    the prediction; the residual's sign is flipped where that mean is negative, so the coded
//!    distributions stay skewed the same way.
//! 4. The zigzagged residual is coded with an adaptive multi-symbol model (Fenwick-tree
//!    counts) per energy level, values above 62 via an escape and adaptive Exp-Golomb.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::integer::AdaptiveGolomb;
use tessera_entropy::model::{AdaptiveFrequency, Model};
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::{
    choose_transform, mid_value, parse_transform, plane_geometry, plane_range, transform_params,
    unzigzag, zigzag, Neighbours, Planes,
};

const VERSION: u8 = 1;
const ENERGY_LEVELS: usize = 8;
const ESCAPE: usize = 63;
const BIAS_CONTEXTS: usize = 256 * 4;

/// The `calic` codec.
#[derive(Debug, Default)]
pub struct Calic;

impl Codec for Calic {
    fn name(&self) -> &'static str {
        "calic"
    }
    fn summary(&self) -> &'static str {
        "CALIC-class: gradient-adjusted prediction, error-energy and texture contexts, adaptive arithmetic coding"
    }
    fn is_lossless(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let ycocg = choose_transform(image, params)?;
        let mut planes = Planes::from_image(image, ycocg);
        let (w, h) = (planes.width, planes.height);
        let mut enc = RangeEncoder::new();
        for (c, plane) in planes.data.iter_mut().enumerate() {
            Model3::new(image.bit_depth(), ycocg, c)?.plane(
                plane,
                w,
                h,
                &mut Coder::Encode(&mut enc),
            )?;
        }
        Ok(Encoded {
            params: transform_params(VERSION, ycocg),
            payload: enc.finish(),
            model: None,
        })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let ycocg = parse_transform(params, header, VERSION)?;
        let (w, h) = plane_geometry(header);
        let mut dec = RangeDecoder::new(payload);
        let mut data = Vec::with_capacity(usize::from(header.channels));
        for c in 0..usize::from(header.channels) {
            let mut plane = vec![0i32; w * h];
            Model3::new(header.bit_depth, ycocg, c)?.plane(
                &mut plane,
                w,
                h,
                &mut Coder::Decode(&mut dec),
            )?;
            data.push(plane);
        }
        dec.check_end()
            .map_err(|_| Error::Truncated("calic payload ends early".into()))?;
        Planes {
            width: w,
            height: h,
            data,
            ycocg,
        }
        .into_image(header.width, header.height, header.frames, header.bit_depth)
    }
}

enum Coder<'a, 'b> {
    Encode(&'a mut RangeEncoder),
    Decode(&'a mut RangeDecoder<'b>),
}

/// The three models of one plane: prediction thresholds, bias contexts, residual coders.
struct Model3 {
    lo: i32,
    hi: i32,
    mid: i32,
    shift: u32,
    bias: Vec<(i32, i32)>,
    symbols: Vec<AdaptiveFrequency>,
    escapes: Vec<AdaptiveGolomb>,
}

const ENERGY_THRESHOLDS: [u32; ENERGY_LEVELS - 1] = [5, 15, 25, 42, 60, 85, 140];

impl Model3 {
    fn new(bit_depth: u8, ycocg: bool, plane: usize) -> Result<Model3> {
        let (lo, hi) = plane_range(bit_depth, ycocg, plane);
        Ok(Model3 {
            lo,
            hi,
            mid: mid_value(bit_depth, ycocg, plane),
            shift: u32::from(bit_depth) - 8,
            bias: vec![(0, 0); BIAS_CONTEXTS],
            symbols: (0..ENERGY_LEVELS)
                .map(|_| AdaptiveFrequency::with_params(ESCAPE + 1, 32, 1 << 16))
                .collect::<std::result::Result<_, _>>()?,
            escapes: (0..ENERGY_LEVELS).map(|_| AdaptiveGolomb::new()).collect(),
        })
    }

    fn plane(&mut self, plane: &mut [i32], w: usize, h: usize, coder: &mut Coder) -> Result<()> {
        let mut errors = vec![0u32; w];
        let s = self.shift;
        for y in 0..h {
            for x in 0..w {
                let nb = Neighbours::at(plane, w, x, y, self.mid);
                let dh = (nb.w - nb.ww).unsigned_abs()
                    + (nb.n - nb.nw).unsigned_abs()
                    + (nb.n - nb.ne).unsigned_abs();
                let dv = (nb.w - nb.nw).unsigned_abs()
                    + (nb.n - nb.nn).unsigned_abs()
                    + (nb.ne - nb.nne).unsigned_abs();
                let gap = gap(nb, dh as i32 >> s, dv as i32 >> s);
                // Error energy with the west residual; context quantised to eight levels.
                let ew = if x > 0 { errors[x - 1] } else { errors[0] };
                let delta = (dh + dv + 2 * ew) >> s;
                let energy = ENERGY_THRESHOLDS.iter().filter(|&&t| delta >= t).count();
                // Texture pattern relative to the prediction.
                let tex = [
                    nb.n,
                    nb.w,
                    nb.nw,
                    nb.ne,
                    nb.nn,
                    nb.ww,
                    2 * nb.n - nb.nn,
                    2 * nb.w - nb.ww,
                ]
                .iter()
                .enumerate()
                .fold(0usize, |acc, (i, &v)| acc | (usize::from(v < gap) << i));
                let ctx = tex * 4 + energy / 2;
                let (sum, count) = self.bias[ctx];
                let mean = if count > 0 {
                    (2 * sum + count).div_euclid(2 * count)
                } else {
                    0
                };
                let pred = (gap + mean).clamp(self.lo, self.hi);
                let flip = mean < 0;
                let i = y * w + x;
                let value = match coder {
                    Coder::Encode(enc) => {
                        let e = plane[i] - pred;
                        let z = zigzag(if flip { -e } else { e }) as usize;
                        let model = &mut self.symbols[energy];
                        enc.encode(model, z.min(ESCAPE))?;
                        model.update(z.min(ESCAPE));
                        if z >= ESCAPE {
                            self.escapes[energy].encode_unsigned(enc, (z - ESCAPE) as u32);
                        }
                        plane[i]
                    }
                    Coder::Decode(dec) => {
                        let model = &mut self.symbols[energy];
                        let mut z = dec.decode(model)?;
                        model.update(z);
                        if z == ESCAPE {
                            z += self.escapes[energy].decode_unsigned(dec)? as usize;
                        }
                        if z > 1 << 20 {
                            return Err(Error::corrupt("calic residual out of range"));
                        }
                        let e = unzigzag(z as u32);
                        let v = pred + if flip { -e } else { e };
                        if v < self.lo || v > self.hi {
                            return Err(Error::corrupt("calic sample out of range"));
                        }
                        plane[i] = v;
                        v
                    }
                };
                errors[x] = (value - pred).unsigned_abs();
                let b = &mut self.bias[ctx];
                b.0 += value - gap;
                b.1 += 1;
                if b.1 >= 128 {
                    b.0 /= 2;
                    b.1 /= 2;
                }
            }
        }
        Ok(())
    }
}

/// Gradient-adjusted prediction (gradients already scaled to 8-bit units).
#[inline]
fn gap(nb: Neighbours, dh: i32, dv: i32) -> i32 {
    if dv - dh > 80 {
        return nb.w;
    }
    if dh - dv > 80 {
        return nb.n;
    }
    let t = (nb.w + nb.n) / 2 + (nb.ne - nb.nw) / 4;
    let d = dv - dh;
    if d > 32 {
        (t + nb.w) / 2
    } else if d > 8 {
        (3 * t + nb.w) / 4
    } else if d < -32 {
        (t + nb.n) / 2
    } else if d < -8 {
        (3 * t + nb.n) / 4
    } else {
        t
    }
}
