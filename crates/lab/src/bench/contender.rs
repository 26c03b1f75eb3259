//! A codec in the bench: one of Tessera's (through the container, so the rate is the whole
//! `.tsr` file) or an external reference (through its files). Both give a [`Trial`]: file
//! bytes, the decoded image and wall times.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use tessera_core::pipeline::{compress, decode_container};
use tessera_core::{Codec, Container, EncodeParams, Image};

use super::ladder::Setting;
use crate::dataset::mnist::tile;
use crate::reference::{Reference, Trial, TrialError};

/// A codec taking part in a bench run (a handful per run, so the size of a recipe is no matter).
#[allow(clippy::large_enum_variant)]
pub enum Contender<'a> {
    /// One of Tessera's codecs.
    Ours(Ours<'a>),
    /// An external program.
    Reference(Reference),
}

/// One of Tessera's codecs with the codec options it runs with (`rnn+variant=lstm-oneshot`
/// is `rnn` with `--set variant=lstm-oneshot`; the option `effort`, as in `lossless+effort=0`,
/// is `--effort` instead).
pub struct Ours<'a> {
    pub codec: &'a dyn Codec,
    /// The codec's name, then `+KEY=VALUE` for each option: the name in results and caches.
    pub name: String,
    pub options: BTreeMap<String, String>,
}

impl Ours<'_> {
    /// The encoder parameters at `quality` (none for lossless codecs).
    fn params(&self, quality: Option<f64>) -> EncodeParams {
        let mut params = match quality {
            Some(q) if !self.codec.is_lossless() => EncodeParams::with_quality(q as f32),
            _ => EncodeParams::default(),
        };
        params.options = self.options.clone();
        if let Some(effort) = params.options.remove("effort") {
            // Checked when the contender was chosen (`bench::select`).
            params.effort = effort.parse().unwrap_or(params.effort);
        }
        params
    }
}

/// Quality ladder of Tessera's lossy codecs when none is given (`-q`, 1..=100).
pub const OUR_LADDER: &[f64] = &[5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 75.0, 85.0, 95.0];

fn fail(stage: &'static str, message: impl Into<String>) -> TrialError {
    TrialError { stage, message: message.into() }
}

impl<'a> Contender<'a> {
    /// One of Tessera's codecs as it is, without options.
    pub fn ours(codec: &'a dyn Codec) -> Self {
        Contender::Ours(Ours { codec, name: codec.name().to_string(), options: BTreeMap::new() })
    }

    /// The name in results and cache paths.
    pub fn name(&self) -> &str {
        match self {
            Contender::Ours(c) => &c.name,
            Contender::Reference(r) => &r.name,
        }
    }

    /// What it is.
    pub fn description(&self) -> String {
        match self {
            Contender::Ours(c) => format!("Tessera {}: {}", c.name, c.codec.summary()),
            Contender::Reference(r) => r.description.clone(),
        }
    }

    /// `ours` or `reference`.
    pub fn kind(&self) -> &'static str {
        match self {
            Contender::Ours(_) => "ours",
            Contender::Reference(_) => "reference",
        }
    }

    /// The cache folder name of a setting: its label, plus what the codec runs there when that
    /// can change under the same name (a learned codec's weights).
    pub fn cache_label(&self, setting: &Setting) -> String {
        let label = setting.label();
        let quality = match setting {
            Setting::Knob { value, .. } => Some(*value),
            _ => None,
        };
        match self {
            Contender::Ours(c) => match c.codec.fingerprint(&c.params(quality)) {
                Some(f) => format!("{label}-{f}"),
                None => label,
            },
            Contender::Reference(_) => label,
        }
    }

    /// Whether it is lossless.
    pub fn lossless(&self) -> bool {
        match self {
            Contender::Ours(c) => c.codec.is_lossless(),
            Contender::Reference(r) => r.lossless,
        }
    }

    /// The knob a ladder sets.
    pub fn knob(&self) -> &str {
        match self {
            Contender::Ours(_) => "q",
            Contender::Reference(r) => &r.knob,
        }
    }

    /// The knob's valid range.
    pub fn range(&self) -> (f64, f64) {
        match self {
            Contender::Ours(_) => (1.0, 100.0),
            Contender::Reference(r) => r.range,
        }
    }

    /// Whether the knob takes whole numbers only.
    pub fn integer_knob(&self) -> bool {
        matches!(self, Contender::Reference(r) if matches!(r.knob.as_str(), "qp" | "Q") || r.name == "cjpeg")
    }

    /// Whether a larger knob value gives a larger file (quality) rather than a smaller one
    /// (distance, ratio, quantiser).
    pub fn rate_rises_with_knob(&self) -> bool {
        self.knob() == "q"
    }

    /// The settings to run: lossless codecs have one; lossy ones take `ladder` (checked
    /// against the knob's range) or their default ladder.
    pub fn settings(&self, ladder: Option<&[f64]>) -> Result<Vec<Setting>, String> {
        if self.lossless() {
            return Ok(vec![Setting::Lossless]);
        }
        let values = match (ladder, self) {
            (Some(l), _) => l.to_vec(),
            (None, Contender::Ours(c)) => match c.codec.qualities() {
                Some(q) => q.into_iter().map(f64::from).collect(),
                None => OUR_LADDER.to_vec(),
            },
            (None, Contender::Reference(r)) => r.ladder.clone(),
        };
        let (lo, hi) = self.range();
        for &v in &values {
            if !(lo..=hi).contains(&v) {
                return Err(format!("{}: {}={v} is outside {lo}..={hi}", self.name(), self.knob()));
            }
            if self.integer_knob() && v.fract() != 0.0 {
                return Err(format!("{}: {} takes whole numbers, not {v}", self.name(), self.knob()));
            }
        }
        Ok(values.into_iter().map(|value| Setting::Knob { knob: self.knob().to_string(), value }).collect())
    }

    /// Encodes and decodes `image` once at knob value `value` (ignored by lossless codecs).
    /// External codecs see a stack of frames tiled into one picture, and so does the decoded
    /// image returned, whichever codec made it.
    pub fn trial_at(&self, image: &Image, value: Option<f64>) -> Result<Trial, TrialError> {
        match self {
            Contender::Reference(r) => {
                let flat = tile(image).map_err(|e| fail("input", e.to_string()))?;
                r.trial(&flat, value.unwrap_or(0.0))
            }
            Contender::Ours(ours) => {
                let params = ours.params(value);
                let start = Instant::now();
                let bytes = guarded("encode", || compress(ours.codec, image, &params))?;
                let encode = start.elapsed();
                let start = Instant::now();
                let decoded = guarded("decode", || {
                    let c = Container::from_bytes(&bytes)?;
                    decode_container(ours.codec, &c)
                })?;
                let decode = start.elapsed();
                let decoded = tile(&decoded).map_err(|e| fail("decode", e.to_string()))?;
                Ok(Trial { bytes: bytes.len() as u64, decoded, encode, decode })
            }
        }
    }

    /// Runs one setting on `image`: the knob as given, or bisected to meet a bpp target (the
    /// highest quality whose file is at most that many bits per pixel). Returns the knob value
    /// used and the trial.
    pub fn run(&self, image: &Image, setting: &Setting) -> Result<(f64, Trial), TrialError> {
        match setting {
            Setting::Lossless => Ok((0.0, self.trial_at(image, None)?)),
            Setting::Knob { value, .. } => Ok((*value, self.trial_at(image, Some(*value))?)),
            Setting::TargetBpp(bpp) => self.bisect_bpp(image, *bpp),
        }
    }

    /// Bisects the knob for the best quality at most `bpp` bits per pixel (12 steps, whole
    /// numbers for integer knobs). When even the lowest quality is too large, that trial is
    /// returned so the record shows how far off it is.
    pub fn bisect_bpp(&self, image: &Image, bpp: f64) -> Result<(f64, Trial), TrialError> {
        if self.lossless() {
            return Ok((0.0, self.trial_at(image, None)?));
        }
        let pixels = (image.width() as usize * image.height() as usize * image.frames() as usize) as f64;
        let (lo_v, hi_v) = self.range();
        // Work in "quality" t ∈ [0, 1]: 0 the smallest file, 1 the largest.
        let rises = self.rate_rises_with_knob();
        let at = |t: f64| {
            let v = if rises { lo_v + t * (hi_v - lo_v) } else { hi_v - t * (hi_v - lo_v) };
            if self.integer_knob() { v.round() } else { v }
        };
        let mut best: Option<(f64, Trial)> = None;
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        let mut tried = std::collections::BTreeMap::new();
        for _ in 0..12 {
            let t = (lo + hi) / 2.0;
            let v = at(t);
            let key = v.to_bits();
            let trial = match tried.get(&key) {
                Some(b) => Trial::clone(b),
                None => {
                    let tr = self.trial_at(image, Some(v))?;
                    tried.insert(key, tr.clone());
                    tr
                }
            };
            if trial.bytes as f64 * 8.0 / pixels <= bpp {
                lo = t;
                let better = best.as_ref().is_none_or(|(_, b)| trial.bytes > b.bytes);
                if better {
                    best = Some((v, trial));
                }
            } else {
                hi = t;
            }
        }
        match best {
            Some(b) => Ok(b),
            None => {
                let v = at(0.0);
                Ok((v, self.trial_at(image, Some(v))?))
            }
        }
    }
}

/// Runs a codec call, turning an error or a panic into a trial failure.
fn guarded<T>(stage: &'static str, f: impl FnOnce() -> tessera_core::Result<T>) -> Result<T, TrialError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(fail(stage, e.to_string())),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(fail(stage, format!("the codec panicked: {msg}")))
        }
    }
}

/// Seconds of a duration.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
