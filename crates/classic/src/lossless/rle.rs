//! `rle`: run-length coding of left-prediction residuals.
//!
//! Each plane (after YCoCg-R when it helps) is turned into residuals against the west
//! neighbour (the north one in the first column), and the residual sequence into
//! `(value, run)` pairs: a value and how many times it repeats. Values and run lengths are coded
//! with adaptive Exp-Golomb binarisations on the range coder, one pair of models per plane.
//! This is the classical technique as it is: it shines on flat synthetic graphics, where a run
//! covers a whole row, and loses to every predictive coder on photographs, where runs are short.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::integer::AdaptiveGolomb;
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::{
    choose_transform, mid_value, parse_transform, plane_geometry, plane_range, transform_params,
    Planes,
};

const VERSION: u8 = 1;

/// The `rle` codec.
#[derive(Debug, Default)]
pub struct Rle;

/// The west neighbour of sample `i`, the north one in the first column, `mid` at the start.
/// (`is_multiple_of` is newer than the workspace's minimum Rust.)
#[allow(clippy::manual_is_multiple_of)]
#[inline]
fn left_prediction(plane: &[i32], width: usize, i: usize, mid: i32) -> i32 {
    if i % width > 0 {
        plane[i - 1]
    } else if i >= width {
        plane[i - width]
    } else {
        mid
    }
}

impl Codec for Rle {
    fn name(&self) -> &'static str {
        "rle"
    }
    fn summary(&self) -> &'static str {
        "run-length coding of left-prediction residuals (value, run), adaptive Exp-Golomb"
    }
    fn is_lossless(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let ycocg = choose_transform(image, params)?;
        let planes = Planes::from_image(image, ycocg);
        let mut enc = RangeEncoder::new();
        for (c, plane) in planes.data.iter().enumerate() {
            let mid = mid_value(image.bit_depth(), ycocg, c);
            let (mut values, mut runs) = (AdaptiveGolomb::new(), AdaptiveGolomb::new());
            let mut i = 0;
            while i < plane.len() {
                let r = plane[i] - left_prediction(plane, planes.width, i, mid);
                let mut run = 1;
                while i + run < plane.len()
                    && plane[i + run] - left_prediction(plane, planes.width, i + run, mid) == r
                {
                    run += 1;
                }
                values.encode_signed(&mut enc, r);
                runs.encode_unsigned(&mut enc, (run - 1) as u32);
                i += run;
            }
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
            let mid = mid_value(header.bit_depth, ycocg, c);
            let (lo, hi) = plane_range(header.bit_depth, ycocg, c);
            let (mut values, mut runs) = (AdaptiveGolomb::new(), AdaptiveGolomb::new());
            let mut plane = vec![0i32; w * h];
            let mut i = 0;
            while i < plane.len() {
                let r = values.decode_signed(&mut dec)?;
                let run = runs.decode_unsigned(&mut dec)? as usize + 1;
                if run > plane.len() - i || r < lo - hi || r > hi - lo {
                    return Err(Error::corrupt("rle run or value out of range"));
                }
                for _ in 0..run {
                    let v = left_prediction(&plane, w, i, mid) + r;
                    if v < lo || v > hi {
                        return Err(Error::corrupt("rle sample out of range"));
                    }
                    plane[i] = v;
                    i += 1;
                }
            }
            data.push(plane);
        }
        dec.check_end()
            .map_err(|_| Error::Truncated("rle payload ends early".into()))?;
        Planes {
            width: w,
            height: h,
            data,
            ycocg,
        }
        .into_image(header.width, header.height, header.frames, header.bit_depth)
    }
}
