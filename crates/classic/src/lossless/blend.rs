//! `lossless`: blended predictors with online least squares, inter-channel prediction, and
//! residuals coded by logistic mixing of several context models with the binary range coder.
//!
//! Samples are coded pixel by pixel, the planes of a pixel in turn (green first for RGB, luma
//! first after the YCoCg-R transform), so each plane can lean on the planes already coded at
//! the same pixel. For every sample:
//! 1. **Prediction.** Eight spatial predictors (N, W, gradients, MED, averages), from the second
//!    plane on four inter-channel ones (a neighbour plus the first plane's step from that
//!    neighbour to this pixel), and at effort 4 and above two online least-squares predictors
//!    (16 causal and inter-channel inputs forgotten slowly, 8 near ones forgotten fast) each
//!    guess the sample in quarter units. Each is weighted by the inverse square of the errors
//!    it made at the four causal neighbours, so the blend follows whichever predictor suits
//!    the local texture; a bias correction learnt per context (as in LOCO-I) removes what the
//!    blend gets wrong on average.
//! 2. **Contexts.** The error energy around the sample, the residual of the earlier planes at
//!    this pixel, the texture (which neighbours lie above the prediction), the disagreement
//!    between predictors, the best predictor's recent error, the prediction's fraction,
//!    where single predictors and neighbours lie relative to the prediction, the shape of
//!    twelve neighbours in quarters of the range, and the predicted value itself.
//! 3. **Coding.** The residual becomes binary decisions: zero?, sign, the Exp-Golomb class in
//!    unary, the class's mantissa. For each decision (but the low mantissa bits) thirteen
//!    context models give a probability, and one more counter is chosen by the exact value at
//!    the near end of the interval of values the decisions so far leave (so frequent values,
//!    such as the saturated strokes of scanned digits, cost little whatever the prediction);
//!    a logistic mixer with three weight selectors (energy; texture and the first plane's
//!    residual; the predicted value) combines them, and two adaptive probability maps refine
//!    the result before the range coder codes the bit. The low mantissa bits are coded under
//!    the same value intervals alone.
//!
//! Efforts: 4 and 5 (the default) as above; 3 without the least-squares predictors, about
//! three times faster; 1 is a different, much faster coder ([`super::fast`]): linear
//! predictors fitted by the encoder and adaptive rANS tables; 2 the same coder with context
//! trees grown by the encoder ([`super::tree`]) and static tables sent with the image; 0 the
//! fastest ([`super::lean`]): fewer predictor inputs, static tables, the planes of a pixel
//! decoded together.
//!
//! Integer arithmetic throughout, except the least-squares solver, which uses only IEEE basic
//! operations (+, −, ×, ÷, √, rounding) in a fixed order: every machine computes the same
//! predictions, so the decoder reproduces every probability exactly.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::mixing::{Apm, Counter, Mixer};
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::{
    choose_transform, fast, half_octave, lean, mid_value, octave, parse_transform, plane_geometry, plane_range, solve_symmetric,
    transform_params, Neighbours, Planes,
};

const VERSION: u8 = 2;
/// Spatial predictors, then inter-channel ones (used from the second plane on).
const SPATIAL: usize = 8;
const PREDICTORS: usize = SPATIAL + 6;
/// Index of the least-squares predictor among the guesses.
const OLS: usize = SPATIAL + 4;
/// Inputs of the least-squares predictor.
const OLS_INPUTS: usize = 16;
/// Index and inputs of the fast-forgetting least-squares predictor on the nearest samples.
const LOCAL: usize = OLS + 1;
const LOCAL_INPUTS: usize = 8;
/// Decisions: zero, sign, 16 unary positions, the first mantissa bit of 20 classes, the second
/// mantissa bit of 10 classes under the first.
const SLOT_ZERO: usize = 0;
const SLOT_SIGN: usize = 1;
const SLOT_UNARY: usize = 2;
const SLOT_MANTISSA: usize = 18;
const SLOT_MANTISSA2: usize = 38;
const SLOTS: usize = 58;
/// Energy classes (half-octaves of local activity), and their coarse grouping.
const ENERGY: usize = 24;
const COARSE: usize = 8;
/// Residual classes of the first plane at this pixel, and of the second.
const GUIDE: usize = 6;
const GUIDE2: usize = 3;
/// Levels of a signed difference quantised by [`signed_class`].
const SIGNED: usize = 11;
/// The context models and how many contexts each has (see `PlaneModel::code` for how each is
/// formed): energy; coarse energy × residuals of the earlier planes here; texture × coarse
/// energy; predictor spread × best predictor's error; first plane's residual sign × fraction ×
/// coarse energy; wide least squares − prediction × coarse energy; W and N − prediction; NE and
/// NW − prediction; WW − prediction (first plane) or first plane's residual × coarse energy;
/// near least squares − prediction and its disagreement with the wide one; the quarter of the
/// sample range each of W, N, NW and NE lies in (which near-binary images such as scanned
/// digits need); the same quarters for twelve neighbours, hashed (the shape of a stroke); the
/// predicted value in 64 levels × coarse energy.
const MODELS: usize = 13;
/// The model whose context is the predicted value (its level also selects mixer weights).
const PREDICTED: usize = 12;
/// Contexts of the wide-shape model (hashed).
const SHAPE_BITS: u32 = 14;
const MODEL_SIZES: [usize; MODELS] = [
    ENERGY,
    COARSE * GUIDE * GUIDE2,
    16 * COARSE,
    8 * 8,
    3 * 4 * COARSE,
    SIGNED * COARSE,
    SIGNED * SIGNED,
    SIGNED * SIGNED,
    SIGNED * COARSE,
    SIGNED * SIGNED,
    256,
    1 << SHAPE_BITS,
    64 * COARSE,
];
/// Count limit of the context counters: about the window they average over.
const LIMIT: u32 = 1023;
/// Learning rate of the mixers, in 1/16 steps: slow, since they see millions of decisions.
const MIXER_RATE: i32 = 10;
/// Learning rate of the probability maps (2^-7).
const APM_RATE: u32 = 7;
/// Forgetting factors of the two least-squares predictors: a wide one that follows the image
/// region by region and a small one that follows the last few dozen samples.
const OLS_LAMBDA: f64 = 0.998;
const LOCAL_LAMBDA: f64 = 0.95;
/// The weights are re-solved every few samples: nearly as good as every sample, four times
/// cheaper.
const SOLVE_EVERY: u32 = 4;
/// Ridge added to the diagonal before solving, so flat regions stay well posed.
const OLS_RIDGE: f64 = 0.001;
/// Efforts from this one on use the least-squares predictors.
const LEAST_SQUARES_EFFORT: u8 = 4;

/// The `lossless` codec.
#[derive(Debug, Default)]
pub struct Blend;

impl Codec for Blend {
    fn name(&self) -> &'static str {
        "lossless"
    }
    fn summary(&self) -> &'static str {
        "blended and inter-channel predictors, context mixing, binary range coder"
    }
    fn is_lossless(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let ycocg = choose_transform(image, params)?;
        let mode = Mode::for_effort(params.effort);
        let mut planes = Planes::from_image(image, ycocg);
        let payload = if mode == Mode::Lean {
            lean::encode(&mut planes, image.bit_depth())?
        } else if let Some((layout, contexts)) = mode.fast() {
            fast::encode(&mut planes, image.bit_depth(), layout, contexts)?
        } else {
            let mut enc = RangeEncoder::new();
            code_image(&mut planes, image.bit_depth(), mode == Mode::LeastSquares, &mut enc)?;
            enc.finish()
        };
        let mut block = transform_params(VERSION, ycocg);
        block.push(mode as u8);
        Ok(Encoded { params: block, payload, model: None })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let (mode, params) = match params.split_last() {
            Some((&4, rest)) => (Mode::Mixing, rest),
            Some((&5, rest)) => (Mode::LeastSquares, rest),
            Some((&6, rest)) => (Mode::FastEighths, rest),
            Some((&7, rest)) => (Mode::Fast, rest),
            Some((&8, rest)) => (Mode::Lean, rest),
            Some((&9, rest)) => (Mode::Trees, rest),
            _ => return Err(Error::corrupt("lossless parameters")),
        };
        let ycocg = parse_transform(params, header, VERSION)?;
        let (w, h) = plane_geometry(header);
        let data = vec![vec![0i32; w * h]; usize::from(header.channels)];
        let mut planes = Planes { width: w, height: h, data, ycocg: ycocg && header.channels >= 3 };
        if mode == Mode::Lean {
            lean::decode(&mut planes, header.bit_depth, payload)?;
        } else if let Some((layout, contexts)) = mode.fast() {
            fast::decode(&mut planes, header.bit_depth, payload, layout, contexts)?;
        } else {
            let mut dec = RangeDecoder::new(payload);
            code_image(&mut planes, header.bit_depth, mode == Mode::LeastSquares, &mut dec)?;
            dec.check_end().map_err(|_| Error::Truncated("lossless payload ends early".into()))?;
        }
        planes.into_image(header.width, header.height, header.frames, header.bit_depth)
    }
}

/// How an effort codes the image; the value is the last byte of the parameter block. Values
/// 0 to 3 are formats no longer written, refused as corrupt parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Context mixing with the spatial and inter-channel predictors.
    Mixing = 4,
    /// Context mixing with the least-squares predictors as well.
    LeastSquares = 5,
    /// Fitted linear predictors and adaptive rANS tables, in strips ([`fast`]).
    Fast = 7,
    /// The same in strips of an eighth of the height: read, no longer written.
    FastEighths = 6,
    /// Fitted linear predictors over fewer inputs and static rANS tables ([`lean`]).
    Lean = 8,
    /// The fast coder with context trees grown by the encoder ([`super::tree`]).
    Trees = 9,
}

impl Mode {
    /// The strip layout and contexts of the fast coder's modes.
    fn fast(self) -> Option<(fast::Layout, fast::Contexts)> {
        match self {
            Mode::Fast => Some((fast::Layout::Balanced, fast::Contexts::Activity)),
            Mode::FastEighths => Some((fast::Layout::Eighths, fast::Contexts::Activity)),
            Mode::Trees => Some((fast::Layout::Balanced, fast::Contexts::Trees)),
            Mode::Mixing | Mode::LeastSquares | Mode::Lean => None,
        }
    }

    fn for_effort(effort: u8) -> Mode {
        match effort {
            0 => Mode::Lean,
            1 => Mode::Fast,
            2 => Mode::Trees,
            e if e < LEAST_SQUARES_EFFORT => Mode::Mixing,
            _ => Mode::LeastSquares,
        }
    }
}

/// The range encoder or decoder behind one interface: the encoder codes `bit` and returns it,
/// the decoder ignores `bit` and returns the bit it reads.
trait BitCoder {
    const DECODES: bool;
    fn code(&mut self, p12: i32, bit: bool) -> bool;
}

impl BitCoder for RangeEncoder {
    const DECODES: bool = false;
    #[inline]
    fn code(&mut self, p12: i32, bit: bool) -> bool {
        self.encode_bit_p((p12 as u32) << 4, bit);
        bit
    }
}

impl BitCoder for RangeDecoder<'_> {
    const DECODES: bool = true;
    #[inline]
    fn code(&mut self, p12: i32, _bit: bool) -> bool {
        self.decode_bit_p((p12 as u32) << 4)
    }
}

/// Codes (or decodes into) every sample of `planes`, pixel by pixel.
fn code_image<C: BitCoder>(planes: &mut Planes, bit_depth: u8, least_squares: bool, coder: &mut C) -> Result<()> {
    let (w, h) = (planes.width, planes.height);
    let count = planes.data.len();
    // Green (or luma) first: the other planes predict from it.
    let order: Vec<usize> = if count >= 3 && !planes.ycocg {
        [1, 0, 2].into_iter().chain(3..count).collect()
    } else {
        (0..count).collect()
    };
    let mut models: Vec<PlaneModel> = order
        .iter()
        .map(|&p| {
            let (lo, hi) = plane_range(bit_depth, planes.ycocg, p);
            PlaneModel::new(w, lo, hi, mid_value(bit_depth, planes.ycocg, p), bit_depth, least_squares)
        })
        .collect();
    let mut guides = [0usize; 2];
    let mut ref_residual = 0i32;
    for y in 0..h {
        for x in 0..w {
            for (rank, &p) in order.iter().enumerate() {
                let (before, rest) = planes.data.split_at_mut(p);
                let (plane, after) = rest.split_first_mut().expect("plane index in range");
                let pick = |r: usize| if r < p { &before[r][..] } else { &after[r - p - 1][..] };
                let reference = (rank >= 1).then(|| pick(order[0]));
                let second = (rank >= 2).then(|| pick(order[1]));
                let r = models[rank].code(plane, [reference, second], x, y, rank, guides, ref_residual, coder)?;
                if rank == 0 {
                    guides[0] = (u32::BITS - (r.unsigned_abs() >> models[0].shift).leading_zeros()).min(GUIDE as u32 - 1) as usize;
                    ref_residual = r;
                } else if rank == 1 {
                    guides[1] = (r.unsigned_abs() >> models[0].shift).min(GUIDE2 as u32 - 1) as usize;
                }
            }
        }
    }
    Ok(())
}

/// The adaptive state of one plane.
struct PlaneModel {
    width: usize,
    lo: i32,
    hi: i32,
    mid: i32,
    /// Right shift that brings 16-bit magnitudes to the 8-bit scale of the contexts.
    shift: u32,
    kmax: u32,
    /// Each predictor's absolute error (quarter units) and the coded residual's magnitude, at
    /// the last two rows (indexed by row parity).
    errors: Vec<[u32; PREDICTORS]>,
    residuals: Vec<u32>,
    /// Bias correction per (energy, texture): sum of errors in quarter units and a count.
    bias: Vec<(i32, i32)>,
    tables: [Vec<Counter>; MODELS],
    mixer: Mixer,
    apm: Apm,
    /// The low mantissa bits' counters, per sign and bit position and value at the near end
    /// of the interval the bit splits ([`Self::value_index`]).
    mantissa: Vec<Counter>,
    /// Per decision and value at the near end of the interval it splits: which exact values
    /// are frequent.
    values: Vec<Counter>,
    guide_apm: Apm,
    /// The least-squares predictors, at the higher efforts.
    least_squares: Option<(Ols<OLS_INPUTS>, Ols<LOCAL_INPUTS>)>,
}

impl PlaneModel {
    fn new(width: usize, lo: i32, hi: i32, mid: i32, bit_depth: u8, least_squares: bool) -> Self {
        let kmax = u32::BITS - ((hi - lo) as u32).leading_zeros();
        PlaneModel {
            width,
            lo,
            hi,
            mid,
            shift: u32::from(bit_depth) - 8,
            kmax,
            errors: vec![[0; PREDICTORS]; 2 * width],
            residuals: vec![0; 2 * width],
            bias: vec![(0, 0); ENERGY * 16],
            tables: MODEL_SIZES.map(|n| vec![Counter::NEW; n * SLOTS]),
            // Weights chosen by energy, by texture with the first plane's residual class, and
            // by the predicted value's level (the context of the last model).
            mixer: Mixer::new(MODELS + 1, &[SLOTS * ENERGY, SLOTS * 16 * 4, SLOTS * 64], MIXER_RATE),
            apm: Apm::new(SLOTS * ENERGY, APM_RATE),
            guide_apm: Apm::new(SLOTS * MODEL_SIZES[1], APM_RATE),
            mantissa: vec![Counter::NEW; 2 * 24 << 9],
            values: vec![Counter::NEW; SLOTS << 9],
            least_squares: least_squares.then(|| (Ols::new(OLS_LAMBDA), Ols::new(LOCAL_LAMBDA))),
        }
    }

    /// Predicts sample (x, y), codes or decodes its residual, and learns from it. Returns the
    /// residual.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn code<C: BitCoder>(
        &mut self,
        plane: &mut [i32],
        [reference, second]: [Option<&[i32]>; 2],
        x: usize,
        y: usize,
        rank: usize,
        guides: [usize; 2],
        ref_residual: i32,
        coder: &mut C,
    ) -> Result<i32> {
        let w = self.width;
        let i = y * w + x;
        let nb = Neighbours::at(plane, w, x, y, self.mid);
        let mut guesses = [0i32; PREDICTORS];
        if let Some(r) = reference {
            let rn = Neighbours::at(r, w, x, y, 0);
            let rx = r[i];
            guesses[SPATIAL] = 4 * (nb.w + rx - rn.w);
            guesses[SPATIAL + 1] = 4 * (nb.n + rx - rn.n);
            guesses[SPATIAL + 2] = 4 * (nb.ne + rx - rn.ne);
            guesses[SPATIAL + 3] = 4 * (nb.nw + rx - rn.nw);
        }
        guesses[..SPATIAL].copy_from_slice(&spatial(&nb));
        let (lo4, hi4) = (f64::from(4 * self.lo), f64::from(4 * self.hi));
        let inputs = self.least_squares.as_ref().map(|(wide, local)| {
            let inputs = ols_inputs(plane, reference, second, w, x, y, &nb);
            let near: [f64; LOCAL_INPUTS] = [inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], inputs[12], inputs[13]];
            guesses[OLS] = (4.0 * wide.predict(&inputs)).round().clamp(lo4, hi4) as i32;
            guesses[LOCAL] = (4.0 * local.predict(&near)).round().clamp(lo4, hi4) as i32;
            (inputs, near)
        });
        let active: &[usize] = match (reference.is_some(), inputs.is_some()) {
            (false, false) => &ALL[..SPATIAL],
            (true, false) => &ALL[..SPATIAL + 4],
            (false, true) => &FIRST,
            (true, true) => &ALL,
        };

        // Causal neighbours' slots in the two-row buffers (None outside the image).
        let row = |xx: usize, yy: usize| (yy & 1) * w + xx;
        let slots = [
            (x > 0).then(|| row(x - 1, y)),
            (y > 0).then(|| row(x, y - 1)),
            (x > 0 && y > 0).then(|| row(x - 1, y - 1)),
            (y > 0 && x + 1 < w).then(|| row(x + 1, y - 1)),
        ];
        let mut sums = [0u32; PREDICTORS];
        for s in slots.iter().flatten() {
            let e = &self.errors[*s];
            for &k in active {
                sums[k] += e[k];
            }
        }
        let mut num = 0i64;
        let mut den = 0i64;
        let mut best = u32::MAX;
        let (mut gmin, mut gmax) = (i32::MAX, i32::MIN);
        for &k in active {
            let e = u64::from(sums[k] >> self.shift) + 1;
            let weight = ((1u64 << 32) / (e * e)).max(1) as i64;
            num += weight * i64::from(guesses[k]);
            den += weight;
            best = best.min(sums[k]);
            if k < SPATIAL {
                gmin = gmin.min(guesses[k]);
                gmax = gmax.max(guesses[k]);
            }
        }
        let blended = (num + den / 2).div_euclid(den) as i32;

        let res = |s: Option<usize>| s.map_or(0, |s| self.residuals[s]);
        let activity = 2 * res(slots[0]) + 2 * res(slots[1]) + res(slots[2]) + res(slots[3])
            + ((nb.w - nb.nw).unsigned_abs() + (nb.n - nb.nw).unsigned_abs() + (nb.ne - nb.n).unsigned_abs()) / 2;
        let energy = half_octave(activity >> self.shift).min(ENERGY - 1);
        let coarse = (energy / 3).min(COARSE - 1);
        let rough = blended >> 2;
        let texture = usize::from(nb.w > rough)
            | usize::from(nb.n > rough) << 1
            | usize::from(nb.nw > rough) << 2
            | usize::from(nb.ne > rough) << 3;
        let b = energy * 16 + texture;
        let (sum, n) = self.bias[b];
        let correction = if n > 0 { (2 * sum + n).div_euclid(2 * n) } else { 0 };
        let pred4 = (blended + correction).clamp(4 * self.lo, 4 * self.hi);
        let pred = pred4 >> 2;
        let fraction = (pred4 & 3) as usize;

        let spread = octave(((gmax - gmin) as u32 >> 2) >> self.shift).min(7);
        let best_class = octave((best >> 2) >> self.shift).min(7);
        let ctx = [
            energy,
            (coarse * GUIDE + guides[0]) * GUIDE2 + if rank >= 2 { guides[1] } else { 0 },
            texture * COARSE + coarse,
            spread * 8 + best_class,
            ((if rank == 0 { 1 } else { (ref_residual.signum() + 1) as usize }) * 4 + fraction) * COARSE + coarse,
            signed_class(guesses[if inputs.is_some() { OLS } else { 3 }] - pred4, self.shift) * COARSE + coarse,
            signed_class(4 * nb.w - pred4, self.shift) * SIGNED + signed_class(4 * nb.n - pred4, self.shift),
            signed_class(4 * nb.ne - pred4, self.shift) * SIGNED + signed_class(4 * nb.nw - pred4, self.shift),
            if rank == 0 {
                signed_class(4 * nb.ww - pred4, self.shift) * COARSE + coarse
            } else {
                signed_class(4 * ref_residual, self.shift) * COARSE + coarse
            },
            signed_class(guesses[if inputs.is_some() { LOCAL } else { 6 }] - pred4, self.shift) * SIGNED
                + signed_class(guesses[if inputs.is_some() { OLS } else { 2 }] - guesses[if inputs.is_some() { LOCAL } else { 6 }], self.shift),
            self.level(nb.w) | self.level(nb.n) << 2 | self.level(nb.nw) << 4 | self.level(nb.ne) << 6,
            self.shape(plane, x, y, &nb),
            ((((pred - self.lo) as u32) >> (self.kmax - 6)) as usize).min(63) * COARSE + coarse,
        ];

        let value = if C::DECODES { 0 } else { plane[i] };
        let selector = texture * 4 + if rank == 0 { 0 } else { guides[0].min(3) };
        let residual = self.code_residual(coder, value - pred, &Site { ctx, selector, energy, pred });
        let value = pred + residual;
        if C::DECODES {
            if !(self.lo..=self.hi).contains(&value) {
                return Err(Error::corrupt("lossless sample out of range"));
            }
            plane[i] = value;
        }

        // Learn.
        let me = row(x, y);
        for &k in active {
            self.errors[me][k] = (4 * value - guesses[k]).unsigned_abs();
        }
        if let (Some((wide, local)), Some((inputs, near))) = (&mut self.least_squares, &inputs) {
            wide.update(inputs, f64::from(value));
            local.update(near, f64::from(value));
        }
        self.residuals[me] = residual.unsigned_abs();
        let (sum, n) = &mut self.bias[b];
        *sum += 4 * value - blended;
        *n += 1;
        if *n >= 128 {
            *sum /= 2;
            *n /= 2;
        }
        Ok(residual)
    }

    /// Codes `residual` (the encoder's; ignored by the decoder) as binary decisions and returns
    /// it (the decoder's result).
    #[inline]
    fn code_residual<C: BitCoder>(&mut self, coder: &mut C, residual: i32, site: &Site) -> i32 {
        if self.bit(coder, SLOT_ZERO, site, site.pred, residual == 0) {
            return 0;
        }
        let negative = self.bit(coder, SLOT_SIGN, site, site.pred, residual < 0);
        // The value at the near end of the interval the bits so far leave, `pred ± offset`.
        let near = |offset: u32| if negative { site.pred - offset as i32 } else { site.pred + offset as i32 };
        let magnitude = residual.unsigned_abs();
        let class = u32::BITS - magnitude.leading_zeros();
        let mut k = 1;
        while k < self.kmax && self.bit(coder, SLOT_UNARY + (k as usize - 1).min(15), site, near(1 << (k - 1)), class > k) {
            k += 1;
        }
        let mut m = 1u32;
        if k >= 2 {
            let bit = (magnitude >> (k - 2)) & 1 == 1;
            m = 2 | u32::from(self.bit(coder, SLOT_MANTISSA + (k as usize).min(19), site, near(1 << (k - 1)), bit));
            if k >= 3 {
                // The second mantissa bit, under the first.
                let bit = (magnitude >> (k - 3)) & 1 == 1;
                let slot = SLOT_MANTISSA2 + 2 * (k as usize).min(9) + (m & 1) as usize;
                m = 2 * m + u32::from(self.bit(coder, slot, site, near(m << (k - 2)), bit));
            }
            for b in (0..k.saturating_sub(3)).rev() {
                // Under the interval of values the bits so far leave: the counters learn
                // which exact values are frequent (the saturated strokes of scanned digits).
                let at = self.value_index(usize::from(negative) * 24 + b as usize, near(m << (b + 1)));
                let c = &mut self.mantissa[at];
                let bit = coder.code(c.p12(), (magnitude >> b) & 1 == 1);
                c.update(bit, LIMIT);
                m = 2 * m + u32::from(bit);
            }
        }
        if negative {
            -(m as i32)
        } else {
            m as i32
        }
    }

    /// Index of a value-interval counter: `row` (a decision) times the sample values, brought
    /// to 9 bits, plus `value` clamped into the range.
    #[inline]
    fn value_index(&self, row: usize, value: i32) -> usize {
        (row << 9) + ((((value.clamp(self.lo, self.hi) - self.lo) as u32) >> self.shift) as usize).min(511)
    }

    /// The quarter of the plane's range `v` lies in.
    #[inline]
    fn level(&self, v: i32) -> usize {
        (((v - self.lo) as u32 >> (self.kmax - 2)) as usize).min(3)
    }

    /// The quarters of the range that twelve causal neighbours lie in, hashed: the local
    /// shape of near-binary content such as strokes.
    #[inline]
    fn shape(&self, plane: &[i32], x: usize, y: usize, nb: &Neighbours) -> usize {
        let at = |dx, dy| self.level(causal(plane, self.width, x, y, dx, dy, nb.w)) as u32;
        let mut h = 0u32;
        for l in [
            self.level(nb.w) as u32, self.level(nb.n) as u32, self.level(nb.nw) as u32, self.level(nb.ne) as u32,
            self.level(nb.ww) as u32, self.level(nb.nn) as u32, self.level(nb.nne) as u32,
            at(-2, -1), at(-1, -2), at(2, -1), at(1, -2), at(-2, -2),
        ] {
            h = (h << 2 | l).wrapping_mul(0x9E37_79B1).rotate_left(13);
        }
        (h >> (32 - SHAPE_BITS)) as usize
    }

    /// One mixed decision; `near` is the value at the near end of the interval of values the
    /// decisions so far leave (the prediction itself before the sign).
    #[inline]
    fn bit<C: BitCoder>(&mut self, coder: &mut C, slot: usize, site: &Site, near: i32, bit: bool) -> bool {
        let Site { ctx, selector, energy, .. } = site;
        for (t, &c) in self.tables.iter().zip(ctx) {
            self.mixer.add(t[c * SLOTS + slot].p12());
        }
        let v = self.value_index(slot, near);
        self.mixer.add(self.values[v].p12());
        let p = self.mixer.mix(&[energy * SLOTS + slot, selector * SLOTS + slot, ctx[PREDICTED] / COARSE * SLOTS + slot]);
        let refined = self.apm.refine(p, energy * SLOTS + slot);
        let guided = self.guide_apm.refine(p, ctx[1] * SLOTS + slot);
        let bit = coder.code((2 * p + 3 * refined + 3 * guided + 4) >> 3, bit);
        self.guide_apm.update(bit);
        self.mixer.update(bit);
        self.apm.update(bit);
        for (t, &c) in self.tables.iter_mut().zip(ctx) {
            t[c * SLOTS + slot].update(bit, LIMIT);
        }
        self.values[v].update(bit, LIMIT);
        bit
    }
}

/// What the decisions of one sample are coded under.
struct Site {
    ctx: [usize; MODELS],
    selector: usize,
    energy: usize,
    /// The prediction.
    pred: i32,
}

/// The predictors used on the first plane, and on the planes after it.
const FIRST: [usize; SPATIAL + 2] = [0, 1, 2, 3, 4, 5, 6, 7, OLS, LOCAL];
const ALL: [usize; PREDICTORS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, OLS, LOCAL];

/// The sample at (x + dx, y + dy) for a causal offset, with coordinates clamped into the
/// image and the west neighbour (or `mid`) standing in for samples not yet coded.
#[inline]
fn causal(plane: &[i32], w: usize, x: usize, y: usize, dx: isize, dy: isize, fallback: i32) -> i32 {
    let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
    let yy = y as isize + dy;
    if yy < 0 || (yy == y as isize && xx >= x) {
        return fallback;
    }
    plane[yy as usize * w + xx]
}

/// The least-squares predictor's inputs: twelve causal neighbours, then four more on the first
/// plane or the reference plane at this pixel and three of its neighbours on the others.
fn ols_inputs(plane: &[i32], reference: Option<&[i32]>, second: Option<&[i32]>, w: usize, x: usize, y: usize, nb: &Neighbours) -> [f64; OLS_INPUTS] {
    let at = |dx, dy| f64::from(causal(plane, w, x, y, dx, dy, nb.w));
    let mut v = [
        f64::from(nb.w), f64::from(nb.n), f64::from(nb.nw), f64::from(nb.ne), f64::from(nb.ww), f64::from(nb.nn),
        f64::from(nb.nne), at(-2, -1), at(-1, -2), at(2, -1), at(-3, 0), at(0, -3), 0.0, 0.0, 0.0, 0.0,
    ];
    match reference {
        Some(r) => {
            let i = y * w + x;
            v[12] = f64::from(r[i]);
            v[13] = f64::from(causal(r, w, x, y, -1, 0, r[i]));
            v[14] = f64::from(causal(r, w, x, y, 0, -1, r[i]));
            v[15] = match second {
                Some(s) => f64::from(s[i]),
                None => f64::from(causal(r, w, x, y, 1, -1, r[i])),
            };
        }
        None => {
            v[12] = at(-2, -2);
            v[13] = at(2, -2);
            v[14] = at(-1, -3);
            v[15] = at(1, -2);
        }
    }
    v
}

/// Online least squares: the weights that minimise the exponentially forgotten squared error
/// of a linear prediction from the inputs, re-solved by Cholesky every few samples. Only IEEE
/// basic operations in a fixed order, so every machine computes the same weights.
struct Ols<const N: usize> {
    cov: [[f64; N]; N],
    cross: [f64; N],
    weights: [f64; N],
    count: u32,
    lambda: f64,
}


impl<const N: usize> Ols<N> {
    fn new(lambda: f64) -> Self {
        Ols { cov: [[0.0; N]; N], cross: [0.0; N], weights: [0.0; N], count: 0, lambda }
    }

    #[inline]
    fn predict(&self, inputs: &[f64; N]) -> f64 {
        let mut p = 0.0;
        for (w, x) in self.weights.iter().zip(inputs) {
            p += w * x;
        }
        p
    }

    fn update(&mut self, inputs: &[f64; N], value: f64) {
        let lambda = self.lambda;
        let g = 1.0 - lambda;
        for j in 0..N {
            for k in j..N {
                self.cov[j][k] = lambda * self.cov[j][k] + g * inputs[j] * inputs[k];
            }
            self.cross[j] = lambda * self.cross[j] + g * inputs[j] * value;
        }
        self.count += 1;
        if self.count >= SOLVE_EVERY {
            self.count = 0;
            self.solve();
        }
    }

    /// Solves (cov + ridge·I)·w = cross; keeps the old weights if not positive definite.
    fn solve(&mut self) {
        if let Some(w) = solve_symmetric(&self.cov, &self.cross, N, OLS_RIDGE) {
            self.weights = w;
        }
    }
}

/// The spatial guesses, in quarter units.
#[inline]
fn spatial(nb: &Neighbours) -> [i32; SPATIAL] {
    let Neighbours { w, n, nw, ne, nne, .. } = *nb;
    [
        4 * n,
        4 * w,
        4 * (w + ne - n),
        4 * (w + n - nw),
        2 * (w + ne),
        4 * (n + ne - nne),
        4 * super::med(w, n, nw),
        2 * (w + n) + ne - nw,
    ]
}

/// A signed difference in quarter units as 0..SIGNED: its sign and octave (up to five).
#[inline]
fn signed_class(d: i32, shift: u32) -> usize {
    let o = octave((d.unsigned_abs() >> 1) >> shift).min(5) as i32;
    (5 + if d < 0 { -o } else { o }) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_gray_colour_alpha_and_16_bit() {
        let mut seed = 3u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 20
        };
        for (c, depth) in [(1u8, 8u8), (3, 8), (4, 8), (2, 16), (3, 16)] {
            let max = if depth == 8 { 255 } else { 65535 };
            let s: Vec<u16> = (0..23 * 17 * u32::from(c)).map(|i| ((i * 7 + next() % 9) % (max + 1)) as u16).collect();
            let img = Image::new(23, 17, c, depth, s).unwrap();
            let cases = [("none", 5), ("ycocg", 5), ("ycocg", 3), ("ycocg", 2), ("none", 2)];
            let fast = [("ycocg", 1), ("none", 1), ("ycocg", 0), ("none", 0)];
            for (transform, effort) in cases.into_iter().chain(fast) {
                let mut params = EncodeParams { effort, ..EncodeParams::default() };
                params.options.insert("transform".into(), transform.into());
                let e = Blend.encode(&img, &params).unwrap();
                let back = Blend.decode(&Header::for_image("lossless", &img, None), &e.params, &e.payload).unwrap();
                assert_eq!(back, img);
            }
        }
    }

    #[test]
    fn half_octaves_rise_by_one_every_half_octave() {
        let classes: Vec<usize> = [0, 1, 2, 3, 4, 6, 8, 12, 16].iter().map(|&v| half_octave(v)).collect();
        assert_eq!(classes, vec![0, 1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
