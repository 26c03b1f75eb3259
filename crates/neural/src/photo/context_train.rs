//! Training of a checkerboard context model ([`super::context`]) on a shipped hyperprior.
//!
//! The hyperprior's transforms and entropy model stay as shipped: the context model changes
//! only the means and scales the latents are coded with, so the distortion does not depend on
//! it and the loss is the rate of the latents alone. Each step runs the frozen analysis and
//! hyperprior without gradients and trains the small context network on their outputs, which
//! is several times cheaper than a step of the full model. Checkpoints, curves and resuming
//! work as for the photo models ([`super::train`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_core::{hex, Error, Result};

use super::codec::device as inference_device;
use super::context::ContextModel;
use super::data::{self, Photo};
use super::model::{neg_log2_sum, quantise, Kind, Quantise};
use super::train::{load_data, validate, Plan};
use super::weights::{self, Base, Meta, ModelFile};
use crate::checkpoint::{self, append_csv, io_err, scalar, train_device};
use crate::layers::gaussian;
use crate::rng::Rng;

/// What a context run is: stored in `resume.json`, checked when resuming.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    /// The shipped hyperprior model file the context is trained on.
    pub base: PathBuf,
    /// SHA-256 of that file (hex), filled in when the run starts.
    pub base_sha256: String,
    pub batch: usize,
    pub patch: usize,
    pub lr: f64,
    pub seed: u64,
}

/// Progress of a context run.
pub type RunState = super::train::RunState<RunConfig>;

/// The base model file `path` loaded on `device`, checked to be a hyperprior (and, given
/// `sha256`, to be the file a run was started on).
fn load_base(path: &Path, sha256: Option<&str>, device: &Device) -> Result<(ModelFile, String)> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let digest = hex(&Sha256::digest(&bytes));
    if sha256.is_some_and(|s| s != digest) {
        return Err(Error::InvalidParam(format!(
            "{} is not the file this run was started on",
            path.display()
        )));
    }
    let name = base_name(path);
    let file = weights::load(&name, &bytes, device)?;
    if file.meta.config()?.kind != Kind::Hyperprior {
        return Err(Error::InvalidParam(format!(
            "{}: a context model trains on a hyperprior model file",
            path.display()
        )));
    }
    Ok((file, digest))
}

/// The model name of a model file path (`models/hyperprior-q3.safetensors` → `hyperprior-q3`).
fn base_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A fresh context model for `m` latent channels, the same for the same seed.
fn fresh(m: usize, seed: u64, device: &Device) -> ContextModel {
    crate::layers::seeded(seed, device, || ContextModel::new(m, device))
}

/// One step's numbers: bits per pixel of the latents with the context and with the
/// hyperprior's own parameters (the same noisy latents).
struct StepStats {
    bpp: f32,
    hyper_bpp: f32,
}

/// Runs (or resumes) the training of a context model until `plan.steps`.
pub fn run(cfg: RunConfig, plan: &Plan) -> Result<RunState> {
    let device = train_device();
    let (frozen, digest) = load_base(&cfg.base, None, &inference_device())?;
    let m = frozen.meta.m;
    let resumed = checkpoint::load(&plan.dir, |s: &RunState| {
        Ok(fresh(m, s.config.seed, &device))
    })?;
    let (mut ctx, mut optim, mut state) = match resumed {
        Some((c, o, mut s)) => {
            // The learning rate may change between sessions; nothing else may.
            let same = RunConfig {
                lr: cfg.lr,
                base_sha256: digest.clone(),
                ..s.config.clone()
            };
            if same
                != (RunConfig {
                    base_sha256: digest.clone(),
                    ..cfg.clone()
                })
                || s.config.base_sha256 != digest
            {
                return Err(Error::InvalidParam(format!(
                    "{} holds a run with other settings or another base ({:?}); use another folder",
                    plan.dir.display(),
                    s.config
                )));
            }
            s.config.lr = cfg.lr;
            (c, o, s)
        }
        None => {
            let mut ctx = fresh(m, cfg.seed, &device);
            if let Some(from) = &plan.init_from {
                ctx = initial_context(ctx, from)?;
            }
            let state = RunState {
                config: RunConfig {
                    base_sha256: digest,
                    ..cfg.clone()
                },
                step: 0,
                rng: Rng::new(cfg.seed).next_u64(),
                seconds: 0.0,
                init_from: plan.init_from.clone(),
                decay_from: None,
                round_from: None,
            };
            (ctx, checkpoint::optimiser(), state)
        }
    };
    state.decay_from = plan.decay_from;
    let (photos, valid) = load_data(plan, cfg.patch)?;
    // The validation model: the base with the context as it trains, on the training device.
    let (mut checked, _) = load_base(&cfg.base, Some(&state.config.base_sha256), &device)?;
    let mut train_log = append_csv(&plan.dir.join("train.csv"), "step,bpp,hyper_bpp,seconds")?;
    let mut valid_log = append_csv(
        &plan.dir.join("valid.csv"),
        "step,bpp,psnr,hyper_bpp,seconds",
    )?;
    let hyper_valid = if valid.is_empty() {
        0.0
    } else {
        validate(&checked.model, &valid, &device).0
    };
    let bar = checkpoint::progress_bar(plan.progress, plan.steps, state.step);
    let mut rng = Rng::new(state.rng);
    let mut pacer = checkpoint::Pacer::new(&plan.dir, plan.checkpoint_every, plan.max_seconds);
    let mut window = (0.0f64, 0.0f64, 0u32);
    while state.step < plan.steps {
        let t = Instant::now();
        let lr = checkpoint::learning_rate(cfg.lr, plan.decay_from, state.step);
        let (c, s) = step(
            ctx, &mut optim, &frozen, &photos, &cfg, lr, &mut rng, &device,
        );
        ctx = c;
        state.step += 1;
        state.seconds += t.elapsed().as_secs_f64();
        if !s.bpp.is_finite() {
            return Err(Error::InvalidParam(format!(
                "training diverged at step {}",
                state.step
            )));
        }
        window = (
            window.0 + f64::from(s.bpp),
            window.1 + f64::from(s.hyper_bpp),
            window.2 + 1,
        );
        bar.set_position(state.step);
        if state.step % 25 == 0 {
            let n = f64::from(window.2);
            writeln!(
                train_log,
                "{},{:.5},{:.5},{:.1}",
                state.step,
                window.0 / n,
                window.1 / n,
                state.seconds
            )?;
            bar.set_message(format!(
                "bpp {:.4} (hyperprior {:.4})",
                window.0 / n,
                window.1 / n
            ));
            window = (0.0, 0.0, 0);
        }
        if !valid.is_empty() && plan.validate_every > 0 && state.step % plan.validate_every == 0 {
            checked.model.context = Some(ctx.clone());
            let (bpp, p) = validate(&checked.model, &valid, &device);
            writeln!(
                valid_log,
                "{},{bpp:.5},{p:.3},{hyper_valid:.5},{:.1}",
                state.step, state.seconds
            )?;
        }
        let stop = pacer.after_step(state.step == plan.steps, || {
            state.rng = rng.state;
            checkpoint::save(&plan.dir, &ctx, &optim, &state)
        })?;
        if stop {
            break;
        }
    }
    bar.finish();
    Ok(state)
}

/// One optimisation step on a batch, its two halves on two threads.
#[allow(clippy::too_many_arguments)]
fn step(
    ctx: ContextModel,
    optim: &mut burn::optim::ModuleOptimizer,
    frozen: &ModelFile,
    photos: &[Photo],
    cfg: &RunConfig,
    lr: f64,
    rng: &mut Rng,
    device: &Device,
) -> (ContextModel, StepStats) {
    let (b, p) = (cfg.batch, cfg.patch);
    let crops = data::random_batch(photos, b, p, rng);
    let x = Tensor::<4>::from_data(TensorData::new(crops, [b, 3, p, p]), &inference_device());
    let hyper = frozen
        .model
        .hyper
        .as_ref()
        .expect("checked to be a hyperprior");
    let y = frozen.model.analysis.forward(x);
    let (means, scales) = hyper.params_rounded(y.clone());
    let to_train = |t: Tensor<4>| Tensor::<4>::from_data(t.into_data(), device);
    let (y, means, scales) = (to_train(y), to_train(means), to_train(scales));
    let [_, m, h, w] = y.dims();
    let seeds = [rng.next_u64(), rng.next_u64()];
    let pixels = (b * p * p) as f32;
    let (parts, grads) = checkpoint::gradients_in_halves(&ctx, device, b, |c, items| {
        let part = |t: &Tensor<4>| t.clone().slice([items.clone(), 0..m, 0..h, 0..w]);
        let mut noise = Rng::new(seeds[usize::from(items.start > 0)]);
        let (means, scales) = (part(&means), part(&scales));
        let (y_hat, cm, cs) = c.quantise(part(&y), means.clone(), scales.clone(), |v, centre| {
            quantise(v, centre, &mut Quantise::Noise(&mut noise))
        });
        let bpp = neg_log2_sum(gaussian::likelihood(y_hat.clone(), cm, cs)) / pixels;
        let hyper_bpp =
            neg_log2_sum(gaussian::likelihood(y_hat.detach(), means, scales).detach()) / pixels;
        let stats = StepStats {
            bpp: scalar(&bpp),
            hyper_bpp: scalar(&hyper_bpp),
        };
        (bpp, stats)
    });
    let stats = parts.iter().fold(
        StepStats {
            bpp: 0.0,
            hyper_bpp: 0.0,
        },
        |s, t| StepStats {
            bpp: s.bpp + t.bpp,
            hyper_bpp: s.hyper_bpp + t.hyper_bpp,
        },
    );
    (optim.step(lr, ctx, grads), stats)
}

/// The context a new run starts from: another context run's last checkpoint, or the context of
/// a shipped checkerboard model file.
fn initial_context(mut ctx: ContextModel, from: &Path) -> Result<ContextModel> {
    use burn::module::Module;
    if from.is_file() {
        let bytes = std::fs::read(from).map_err(|e| io_err(from, e))?;
        weights::apply(&mut ctx, &from.display().to_string(), &bytes)?;
        return Ok(ctx);
    }
    ctx.try_load_file(from.join("resume-model.bpk"))
        .map_err(|e| io_err(from, e))
}

/// Writes the shipped file of the context run in `dir` (the context's weights in f16 and the
/// name and hash of its base) and its model card beside it. The base must be found by its name
/// as every model is, so the file is written next to it.
pub fn export(dir: &Path, out: &Path, force: bool) -> Result<Meta> {
    let device = train_device();
    let state: RunState = checkpoint::state(dir)?
        .ok_or_else(|| Error::InvalidParam(format!("no run in {}", dir.display())))?;
    let c = &state.config;
    let (base, _) = load_base(&c.base, Some(&c.base_sha256), &device)?;
    let (ctx, _, _) =
        checkpoint::load(dir, |_: &RunState| Ok(fresh(base.meta.m, c.seed, &device)))?
            .ok_or_else(|| Error::InvalidParam(format!("no run in {}", dir.display())))?;
    let meta = Meta {
        kind: Kind::Checkerboard.name().into(),
        n: base.meta.n,
        m: base.meta.m,
        lambda: base.meta.lambda,
        step: state.step,
        seconds: state.seconds,
        tables: Vec::new(),
        base: Some(Base {
            name: base_name(&c.base),
            sha256: c.base_sha256.clone(),
        }),
    };
    let bytes = weights::export(&ctx, &meta)?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    tessera_core::io::write_atomic(out, &bytes, force)?;
    let name = base_name(out);
    let card = card(&name, &meta, &state, dir, bytes.len());
    tessera_core::io::write_atomic(&out.with_extension("md"), card.as_bytes(), true)?;
    Ok(meta)
}

/// The model card of a checkerboard model.
fn card(name: &str, meta: &Meta, state: &RunState, dir: &Path, size: usize) -> String {
    let c = &state.config;
    let base = meta.base.as_ref().map(|b| b.name.as_str()).unwrap_or("?");
    let m = meta.m;
    let last = |file: &str| {
        std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|v| v.lines().skip(1).last().map(str::to_string))
            .unwrap_or_default()
    };
    let v: Vec<String> = last("valid.csv").split(',').map(str::to_string).collect();
    let results = if v.len() >= 4 {
        format!(
            "Validation (cid22, centre 256×256 crops, rounding, estimated bits of y and z) at step {}: {} bpp at {} dB, against {} bpp for `{base}` alone (the same PSNR: the transforms are the base's).",
            v[0], v[1], v[2], v[3]
        )
    } else {
        "No validation was logged.".into()
    };
    let decay = state
        .decay_from
        .map(|d| format!(" --decay-from {d}"))
        .unwrap_or_default();
    let from = state
        .init_from
        .as_ref()
        .map(|f| format!(" --init-from {}", f.display()))
        .unwrap_or_default();
    format!(
        "# {name}

Learned photo codec `checkerboard`, quality {q}: the transforms and mean-scale hyperprior of \
`{base}` (SHA-256 `{sha}`), with a checkerboard context model (He et al. 2021) trained on them \
for λ = {lambda}. This file holds the context model alone ({size} bytes, f16) and names its base, \
which must be present beside it.

## Architecture

| part | layers |
|---|---|
| context | conv 5×5 {m}→{m} over the anchors (the taps that see anchors only) |
| parameters | conv 1×1 {m3}→{m2} over (hyperprior means, scales, context), ReLU, conv 1×1 {m2}→{m2}, added to the hyperprior's means and scales; run in fixed point when coding |

The anchors (`x + y` even) are coded first with the corrected hyperprior parameters, the other \
half with the parameters their decoded neighbours give.

## Training

The base stays frozen; the loss is the estimated rate of the latents with uniform noise (the \
distortion does not depend on the context). Adam (ε 1e-8, per-tensor gradient-norm clip 1.0), \
learning rate {lr}, batch {batch} of {patch}×{patch} crops, seed {seed}; {steps} steps in {hours:.2} \
hours of CPU training.

```
tessera train context --base {base_path} --lr {lr} --batch {batch} --patch {patch} --seed {seed} --steps {steps}{decay} --dir {dir}{from}
tessera train export --run {dir} --out models/{name}.safetensors
```

## Results

{results}

Kodak rate–distortion points beside the reference codecs: BENCHMARKS.md, section \"Learned photo codecs\".
",
        q = name.rsplit('q').next().unwrap_or("?"),
        sha = c.base_sha256,
        lambda = meta.lambda,
        m3 = 3 * m,
        m2 = 2 * m,
        lr = c.lr,
        batch = c.batch,
        patch = c.patch,
        seed = c.seed,
        steps = state.step,
        hours = state.seconds / 3600.0,
        base_path = c.base.display(),
        dir = dir.display(),
    )
}
