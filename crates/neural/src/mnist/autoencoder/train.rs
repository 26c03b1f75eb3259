//! Training of the digit autoencoders on MNIST's training split, resumable exactly: a run
//! folder holds the checkpoint (`resume-*.bpk`, `resume.json`) and the curve `train.csv`.
//!
//! Rate–distortion models minimise λ·255²·MSE + bits per pixel (latents with additive uniform
//! noise) plus the prior's auxiliary quantile loss. The plain model minimises λ·255²·MSE +
//! `l2`·mean(y²) with no noise and no rate term; its prior is fitted on the detached latents
//! (the transforms get no gradient from it), so it can be coded the same way.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use tessera_core::{Container, Error, Header, Result};

use super::codec::{self, Loaded, Meta};
use super::model::{DigitAutoencoder, Quantise, Shape};
use crate::checkpoint::{self, append_csv, scalar};
use crate::mnist::data::{self, Digits, PIXELS, SIDE};
use crate::photo::weights::TABLE_BITS;
use crate::rng::Rng;

/// What a run is; checked when resuming (the learning rate may change).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    pub shape: Shape,
    pub lambda: f64,
    /// Train without a rate term (the comparison model).
    pub plain: bool,
    /// Weight of the L2 penalty on the latents (plain models).
    pub l2: f64,
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
    /// Training seconds so far, over every session.
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
    pub progress: bool,
}

/// Loads the run in `dir`, if any.
pub fn load_run(dir: &Path, device: &Device) -> Result<Option<(DigitAutoencoder, ModuleOptimizer, RunState)>> {
    checkpoint::load(dir, |s: &RunState| {
        s.config.shape.check()?;
        Ok(DigitAutoencoder::new(s.config.shape, &mut Rng::new(s.config.seed), device))
    })
}

/// One step's numbers.
pub struct StepStats {
    pub loss: f32,
    pub bpp: f32,
    pub mse: f32,
}

/// One optimisation step on a random batch.
pub fn step(
    model: DigitAutoencoder,
    optim: &mut ModuleOptimizer,
    digits: &Digits,
    cfg: &RunConfig,
    lr: f64,
    rng: &mut Rng,
    device: &Device,
) -> (DigitAutoencoder, StepStats) {
    let b = cfg.batch;
    let idx = digits.random_indices(b, rng);
    let x = Tensor::<4>::from_data(TensorData::new(digits.batch(&idx), [b, 1, SIDE, SIDE]), device);
    let out = if cfg.plain {
        let mut fit = Rng::new(rng.next_u64());
        model.forward(x.clone(), Quantise::Identity, Some(&mut fit))
    } else {
        model.forward(x.clone(), Quantise::Noise(rng), None)
    };
    let mse = (out.x_hat - x).square().mean();
    let bpp = out.bits / (b * PIXELS) as f32;
    let mut loss = mse.clone() * (cfg.lambda * 255.0 * 255.0) as f32 + bpp.clone() + model.density.aux_loss();
    if cfg.plain {
        loss = loss + out.y.square().mean() * cfg.l2 as f32;
    }
    let stats = StepStats { loss: scalar(&loss), bpp: scalar(&bpp), mse: scalar(&mse) };
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (optim.step(lr, model, grads), stats)
}

/// PSNR of an MSE on the [0, 1] scale.
pub fn psnr(mse: f64) -> f64 {
    -10.0 * mse.max(1e-12).log10()
}

/// Runs (or resumes) training until `plan.steps`.
pub fn run(cfg: RunConfig, plan: &Plan) -> Result<RunState> {
    cfg.shape.check()?;
    let bad = |v: f64| v.is_nan() || v < 0.0 || v.is_infinite();
    if cfg.batch == 0 || bad(cfg.lambda) || bad(cfg.l2) {
        return Err(Error::InvalidParam("batch must be positive, λ and l2 not negative".into()));
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
            let model = DigitAutoencoder::new(cfg.shape, &mut rng, &device);
            let state = RunState { config: cfg.clone(), step: 0, rng: rng.state, seconds: 0.0, decay_from: None };
            (model, checkpoint::optimiser(), state)
        }
    };
    state.decay_from = plan.decay_from;
    std::fs::create_dir_all(&plan.dir)?;
    let train = data::load_split(&plan.data, "train")?;
    if train.is_empty() {
        return Err(Error::InvalidParam(format!("{} holds no training digits", plan.data.display())));
    }
    let mut log = append_csv(&plan.dir.join("train.csv"), "step,loss,bpp,psnr,seconds")?;
    let bar = checkpoint::progress_bar(plan.progress, plan.steps, state.step);
    let mut rng = Rng::new(state.rng);
    let mut pacer = checkpoint::Pacer::new(&plan.dir, plan.checkpoint_every, plan.max_seconds);
    let mut window = (0.0f64, 0.0f64, 0.0f64, 0u32);
    while state.step < plan.steps {
        let t = Instant::now();
        let lr = checkpoint::learning_rate(cfg.lr, plan.decay_from, state.step);
        let (m, s) = step(model, &mut optim, &train, &cfg, lr, &mut rng, &device);
        model = m;
        state.step += 1;
        state.seconds += t.elapsed().as_secs_f64();
        if !s.loss.is_finite() {
            return Err(Error::InvalidParam(format!("training diverged at step {} (loss {})", state.step, s.loss)));
        }
        window = (window.0 + f64::from(s.loss), window.1 + f64::from(s.bpp), window.2 + f64::from(s.mse), window.3 + 1);
        bar.set_position(state.step);
        if state.step % 50 == 0 {
            let n = f64::from(window.3);
            let (loss, bpp, p) = (window.0 / n, window.1 / n, psnr(window.2 / n));
            writeln!(log, "{},{loss:.5},{bpp:.5},{p:.3},{:.1}", state.step, state.seconds)?;
            bar.set_message(format!("loss {loss:.4} bpp {bpp:.3} psnr {p:.2}"));
            window = (0.0, 0.0, 0.0, 0);
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

/// What a model does on a set of digits, coded for real.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Bytes of the whole container (every header byte).
    pub bytes: usize,
    pub bpp: f64,
    /// PSNR over the whole set (from its mean squared error).
    pub psnr: f64,
    pub encode_s: f64,
    pub decode_s: f64,
}

/// Codes `digits` into one container with `m` and decodes it back.
pub fn measure(m: &Loaded, digits: &Digits, q: u8) -> Result<Measured> {
    let t = Instant::now();
    let enc = codec::encode_with(m, digits, q)?;
    let encode_s = t.elapsed().as_secs_f64();
    let header = Header {
        codec: "mnist-ae".into(),
        width: SIDE as u32,
        height: SIDE as u32,
        frames: digits.len() as u32,
        channels: 1,
        bit_depth: 8,
        model: enc.model.clone(),
    };
    let t = Instant::now();
    let back = codec::decode_with(m, &header, &enc.params, &enc.payload)?;
    let decode_s = t.elapsed().as_secs_f64();
    let bytes = Container { header, params: enc.params, payload: enc.payload }.to_bytes()?.len();
    let se: f64 = back
        .samples()
        .iter()
        .zip(&digits.pixels)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    let mse = se / (digits.pixels.len() as f64 * 255.0 * 255.0);
    Ok(Measured { bytes, bpp: bytes as f64 * 8.0 / digits.pixels.len() as f64, psnr: psnr(mse), encode_s, decode_s })
}

/// The model file of the run in `dir` (f16 weights, [`Meta`] with the integer tables).
pub fn export_bytes(dir: &Path) -> Result<(Vec<u8>, Meta, RunState)> {
    let (model, _, state) = load_run(dir, &checkpoint::train_device())?
        .ok_or_else(|| Error::InvalidParam(format!("no run in {}", dir.display())))?;
    let c = &state.config;
    let meta = Meta {
        shape: c.shape,
        lambda: c.lambda,
        plain: c.plain,
        step: state.step,
        seconds: state.seconds,
        tables: model.density.tables(TABLE_BITS)?,
    };
    let bytes = crate::photo::weights::export(&model, &meta)?;
    Ok((bytes, meta, state))
}

/// Writes the shipped model file of the run in `dir` and its model card beside it, with the
/// rate and PSNR measured on `test` through the real container (as shipped: f16 weights).
pub fn export(dir: &Path, out: &Path, force: bool, data: &Path, test: &Digits) -> Result<(Meta, Measured)> {
    let (bytes, meta, state) = export_bytes(dir)?;
    let name = out.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let loaded = codec::load_bytes(&name, &bytes)?;
    let q = name.rsplit_once("-q").and_then(|(_, q)| q.parse().ok()).unwrap_or(0);
    let r = measure(&loaded, test, q)?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    tessera_core::io::write_atomic(out, &bytes, force)?;
    let card = card(&name, &meta, &state, dir, data, &bytes, test.len(), &r)?;
    tessera_core::io::write_atomic(&out.with_extension("md"), card.as_bytes(), true)?;
    Ok((meta, r))
}

/// The model card of `name`.
#[allow(clippy::too_many_arguments)]
fn card(
    name: &str,
    meta: &Meta,
    state: &RunState,
    dir: &Path,
    data: &Path,
    bytes: &[u8],
    count: usize,
    r: &Measured,
) -> Result<String> {
    let c = &state.config;
    let (n, m) = (c.shape.n, c.shape.m);
    let digest = data::train_images_digest(data);
    let objective = if c.plain {
        format!(
            "plain autoencoder, the comparison model: loss λ·255²·MSE + {}·mean(y²) with λ = {}, no quantisation noise and no rate term; rounded only when coding. Its factorised prior is fitted on the detached latents (the transforms get no gradient from it) so that it is coded exactly like the rate–distortion models",
            c.l2, c.lambda
        )
    } else {
        format!("rate–distortion model: loss λ·255²·MSE + bits per pixel with λ = {}, additive uniform noise for rounding during training", c.lambda)
    };
    let mut plain_flag = if c.plain { format!(" --plain --l2 {}", c.l2) } else { String::new() };
    if let Some(d) = state.decay_from {
        plain_flag += &format!(" --decay-from {d}");
    }
    Ok(format!(
        "# {name}\n\nLossy learned digit codec `mnist-ae` ({objective}).\n\n\
         ## Architecture\n\n| part | layers |\n|---|---|\n\
         | analysis | conv 5×5/2 1→{n}, GDN, conv 5×5/2 {n}→{n}, GDN, conv 3×3 {n}→{m} (28×28 → {m}×7×7) |\n\
         | synthesis | conv 3×3 {m}→{n}, IGDN, deconv 5×5/2 {n}→{n}, IGDN, deconv 5×5/2 {n}→1 |\n\
         | entropy model | learned factorised density per latent channel ({m}), 16-bit integer tables stored in this file's metadata; latents rounded around the channel medians and range-coded |\n\n\
         Weights in f16 ({len} bytes). Decoding is the same on every machine: the coder uses only the stored integer tables; the synthesis (floating point) runs after every symbol is decoded.\n\n\
         ## Data\n\nMNIST training split, 60,000 digits, `{data}/train-images-idx3-ubyte.gz` (SHA-256 `{digest}`), random digits with replacement.\n\n\
         ## Training\n\nAdam (ε 1e-8, per-tensor gradient-norm clip 1.0), learning rate {lr}, batch {b}, seed {seed}; {step} steps in {min:.1} minutes on this 2-core machine (shared with other jobs).\n\n\
         ```\nnice -n 5 tessera train mnist-ae --lambda {lambda} --latent {m} --n {n} --batch {b} --lr {lr} --seed {seed} --steps {step} --dir {dir}{plain_flag}\n\
         tessera train export --run {dir} --out models/{name}.safetensors\n```\n\n\
         ## Results\n\nMNIST test set ({count} digits in one container, every header byte counted): **{bpp:.4} bits per pixel** \
         ({total} bytes, compression ratio {ratio:.1}), **PSNR {psnr:.2} dB** (over the whole set); encode {enc:.1} s, decode {dec:.1} s on this machine. \
         Comparison with the other codecs: BENCHMARKS.md, \"Learned codecs on MNIST (lossy)\".\n",
        len = bytes.len(),
        data = data.display(),
        lr = c.lr,
        b = c.batch,
        seed = c.seed,
        step = meta.step,
        min = meta.seconds / 60.0,
        lambda = c.lambda,
        dir = dir.display(),
        bpp = r.bpp,
        total = r.bytes,
        ratio = (count * PIXELS) as f64 / r.bytes as f64,
        psnr = r.psnr,
        enc = r.encode_s,
        dec = r.decode_s,
    ))
}
