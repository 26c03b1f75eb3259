//! Training of the pixel model on MNIST's training digits: the loss is the code length
//! itself (cross-entropy in bits per pixel); the last 1,000 training digits are held out and
//! coded with the real coder to validate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use tessera_core::{Error, Result};

use super::codec::{encode_with, Loaded, Meta};
use super::model::{PixelModel, Shape};
use super::net::Net;
use crate::checkpoint::{self, append_csv, scalar};
use crate::mnist::data::{self, Digits, PIXELS};
use crate::rng::Rng;

/// Training digits held out for validation (the end of the training split).
const HELD_OUT: usize = 1000;

/// What a run is; checked when resuming (the learning rate may change).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    pub shape: Shape,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
}

/// Progress of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    pub config: RunConfig,
    pub step: u64,
    pub rng: u64,
    pub seconds: f64,
    /// The step from which the learning rate was a tenth (the last session's plan).
    #[serde(default)]
    pub decay_from: Option<u64>,
}

/// Where the data is and how long to go.
pub struct Plan {
    pub dir: PathBuf,
    /// A folder holding MNIST's training split (`train-images-idx3-ubyte[.gz]`).
    pub data: PathBuf,
    pub steps: u64,
    /// From this step on the learning rate is a tenth.
    pub decay_from: Option<u64>,
    pub max_seconds: Option<f64>,
    pub checkpoint_every: f64,
    /// Validate (code the held-out digits) every this many steps.
    pub validate_every: u64,
    pub progress: bool,
}

/// Loads the run in `dir`, if any.
pub fn load_run(dir: &Path, device: &Device) -> Result<Option<(PixelModel, ModuleOptimizer, RunState)>> {
    checkpoint::load(dir, |s: &RunState| {
        s.config.shape.check()?;
        Ok(PixelModel::new(s.config.shape, &mut Rng::new(s.config.seed), device))
    })
}

/// The training digits and the held-out ones.
pub fn split(data: &Path) -> Result<(Digits, Digits)> {
    let all = data::load_split(data, "train")?;
    if all.len() <= HELD_OUT {
        return Err(Error::InvalidParam(format!(
            "{} holds {} training digits; more than {HELD_OUT} are needed",
            data.display(),
            all.len()
        )));
    }
    let n = all.len() - HELD_OUT;
    let held = Digits { pixels: all.pixels[n * PIXELS..].to_vec(), labels: None };
    Ok((all.take(n), held))
}

/// Bits per pixel of `digits` coded with `model` by the real coder (every byte of the
/// payload, not the container header).
pub fn coded_bpp(model: &PixelModel, digits: &Digits) -> Result<f64> {
    let loaded = Loaded {
        tag: crate::photo::weights::tag("validation", &[]),
        meta: Meta { shape: model.shape(), step: 0, seconds: 0.0 },
        net: Net::new(model)?,
    };
    let e = encode_with(&loaded, digits)?;
    Ok(e.payload.len() as f64 * 8.0 / (digits.len() * PIXELS) as f64)
}

/// Runs (or resumes) training until `plan.steps`.
pub fn run(cfg: RunConfig, plan: &Plan) -> Result<RunState> {
    cfg.shape.check()?;
    if cfg.batch == 0 {
        return Err(Error::InvalidParam("batch must be positive".into()));
    }
    let device = checkpoint::train_device();
    let (mut model, mut optim, mut state) = match load_run(&plan.dir, &device)? {
        Some((m, o, mut s)) => {
            if (RunConfig { lr: cfg.lr, ..s.config.clone() }) != cfg {
                return Err(Error::InvalidParam(format!(
                    "{} holds a run with other settings ({:?}); use another folder",
                    plan.dir.display(),
                    s.config
                )));
            }
            s.config.lr = cfg.lr;
            (m, o, s)
        }
        None => {
            let mut rng = Rng::new(cfg.seed);
            let model = PixelModel::new(cfg.shape, &mut rng, &device);
            let state = RunState { config: cfg.clone(), step: 0, rng: rng.state, seconds: 0.0, decay_from: None };
            (model, checkpoint::optimiser(), state)
        }
    };
    state.decay_from = plan.decay_from;
    std::fs::create_dir_all(&plan.dir)?;
    let (train, held) = split(&plan.data)?;
    let mut log = append_csv(&plan.dir.join("train.csv"), "step,bpp,seconds")?;
    let mut valid = append_csv(&plan.dir.join("valid.csv"), "step,coded_bpp")?;
    let bar = checkpoint::progress_bar(plan.progress, plan.steps, state.step);
    let mut rng = Rng::new(state.rng);
    let mut pacer = checkpoint::Pacer::new(&plan.dir, plan.checkpoint_every, plan.max_seconds);
    let (mut sum, mut count) = (0.0f64, 0u32);
    while state.step < plan.steps {
        let t = Instant::now();
        let lr = checkpoint::learning_rate(cfg.lr, plan.decay_from, state.step);
        let idx = train.random_indices(cfg.batch, &mut rng);
        let pixels: Vec<u8> = idx.iter().flat_map(|&i| train.digit(i).iter().copied()).collect();
        let (parts, grads) = checkpoint::gradients_in_halves(&model, &device, cfg.batch, |m, digits| {
            let share = digits.len() as f32 / cfg.batch as f32;
            let bpp = m.bits_per_pixel(&pixels[digits.start * PIXELS..digits.end * PIXELS], digits.len(), &device);
            let part = bpp * share;
            let value = scalar(&part);
            (part, value)
        });
        let value: f32 = parts.iter().sum();
        if !value.is_finite() {
            return Err(Error::InvalidParam(format!("training diverged at step {}", state.step)));
        }
        model = optim.step(lr, model, grads);
        state.step += 1;
        state.seconds += t.elapsed().as_secs_f64();
        bar.set_position(state.step);
        (sum, count) = (sum + f64::from(value), count + 1);
        if state.step % 50 == 0 {
            writeln!(log, "{},{:.5},{:.1}", state.step, sum / f64::from(count), state.seconds)?;
            bar.set_message(format!("{:.4} bpp", sum / f64::from(count)));
            (sum, count) = (0.0, 0);
        }
        if plan.validate_every > 0 && state.step % plan.validate_every == 0 {
            writeln!(valid, "{},{:.5}", state.step, coded_bpp(&model, &held)?)?;
        }
        let stop = pacer.after_step(state.step == plan.steps, || {
            state.rng = rng.state;
            checkpoint::save(&plan.dir, &model, &optim, &state)
        })?;
        if stop {
            break;
        }
    }
    bar.finish();
    Ok(state)
}

/// Writes the shipped model file of the run in `dir` (f16 weights, [`Meta`]) and a model card
/// beside it; `test` is the set the card reports the coded rate on.
pub fn export(dir: &Path, out: &Path, force: bool, data: &Path, test: &Digits) -> Result<Meta> {
    let (model, _, state) = load_run(dir, &checkpoint::train_device())?
        .ok_or_else(|| Error::InvalidParam(format!("no run in {}", dir.display())))?;
    let c = &state.config;
    let meta = Meta { shape: c.shape, step: state.step, seconds: state.seconds };
    let bytes = crate::photo::weights::export(&model, &meta)?;
    let name = out.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The rate as shipped: f16 weights, the whole container.
    let loaded = super::codec::load_bytes(&name, &bytes)?;
    let t = Instant::now();
    let encoded = encode_with(&loaded, test)?;
    let encode_s = t.elapsed().as_secs_f64();
    let header = tessera_core::Header {
        codec: "mnist-lossless".into(),
        width: data::SIDE as u32,
        height: data::SIDE as u32,
        frames: test.len() as u32,
        channels: 1,
        bit_depth: 8,
        model: encoded.model.clone(),
    };
    let t = Instant::now();
    let back = super::codec::decode_with(&loaded, &header, &encoded.params, &encoded.payload)?;
    let decode_s = t.elapsed().as_secs_f64();
    if back.samples().iter().map(|&s| s as u8).ne(test.pixels.iter().copied()) {
        return Err(Error::InvalidParam("the exported model does not round-trip the test set".into()));
    }
    let container = tessera_core::Container { header, params: encoded.params, payload: encoded.payload };
    let total = container.to_bytes()?.len();
    let bpp = total as f64 * 8.0 / (test.len() * PIXELS) as f64;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    tessera_core::io::write_atomic(out, &bytes, force)?;
    let digest = data::train_images_digest(data);
    let s = c.shape;
    let card = format!(
        "# {name}\n\nLearned lossless coder for 28×28 8-bit digits (`tessera compress --codec mnist-lossless`). Each \
         pixel's 256-way distribution comes from a causal network: a masked {k}×{k} convolution over the pixels already \
         coded ({r} rows above, {r} columns either side; {taps} taps; two inputs per pixel, its value and whether it is \
         inked) → {h} channels plus a learned bias per position, ReLU; \
         {l} × (1×1 convolution {h}→{h}, ReLU); 1×1 convolution {h}→256 logits. The coder evaluates it in plain f32 in a \
         fixed order and turns logits rounded to 1/16 nat into integer frequencies by table, so that encoder and decoder \
         agree bit for bit on every machine. Weights in f16 ({len} bytes).\n\n\
         ## Training\n\nMNIST training split ({n} digits; the last {HELD_OUT} held out for validation), \
         `{data}/train-images-idx3-ubyte.gz` (SHA-256 `{digest}`). Loss: the code length in bits per pixel. Adam, learning rate {lr}, \
         {decay_text}batch {b} digits, seed {seed}; {step} steps in {min:.1} minutes on this 2-core machine.\n\n```\n\
         tessera train mnist-lossless --hidden {h} --radius {r} --layers {l} --batch {b} --lr {lr}{decay_arg} --seed {seed} --steps {step} --dir {dir}\n\
         tessera train export --run {dir} --out models/{name}.safetensors\n```\n\n\
         ## Results\n\nMNIST test set ({count} digits in one container, every header byte counted): **{bpp:.4} bits per \
         pixel** ({total} bytes; compression ratio {ratio:.2}), bit-exact round trip; encode {encode_s:.1} s, decode \
         {decode_s:.1} s on this machine. Curves: `train.csv`, `valid.csv` in the run folder; comparison with the other \
         codecs: BENCHMARKS.md, \"Learned codecs on MNIST\".\n",
        k = s.kernel(),
        r = s.radius,
        taps = s.kernel() * s.radius + s.radius,
        h = s.hidden,
        l = s.layers,
        len = bytes.len(),
        n = 60_000 - HELD_OUT,
        data = data.display(),
        lr = c.lr,
        decay_text = state.decay_from.map(|d| format!("a tenth of it from step {d}, ")).unwrap_or_default(),
        decay_arg = state.decay_from.map(|d| format!(" --decay-from {d}")).unwrap_or_default(),
        b = c.batch,
        seed = c.seed,
        step = state.step,
        min = state.seconds / 60.0,
        dir = dir.display(),
        ratio = (test.len() * PIXELS + 16) as f64 / total as f64,
        count = test.len(),
    );
    tessera_core::io::write_atomic(&out.with_extension("md"), card.as_bytes(), true)?;
    Ok(meta)
}
