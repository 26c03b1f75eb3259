//! Training of the recurrent codec: square crops (32×32 by default, larger later in a run),
//! `iterations` passes per crop, loss the mean absolute residual summed over iterations (as in the
//! paper), stochastic binarisation (the sign, as in coding, from `Plan::sign_from` on).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use tessera_core::{Error, Result};

use super::model::{binarize_noisy, binarize_straight, RecurrentModel, Variant};
use crate::checkpoint::{self, append_csv, scalar};
use crate::photo::data::{self, Photo};
use crate::rng::Rng;

/// What a run is; checked when resuming. The learning rate may change, and so may the crops (batch
/// and side): the network is convolutional, and a run that started on small crops goes on to
/// larger ones, whose codes have fewer positions at a picture's border.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    pub variant: String,
    pub iterations: usize,
    pub batch: usize,
    pub patch: usize,
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
    /// The step from which the last invocation trained at a tenth of the learning rate.
    #[serde(default)]
    pub decay_from: Option<u64>,
    /// The step from which the last invocation binarised with the sign.
    #[serde(default)]
    pub sign_from: Option<u64>,
    /// The crops of the run's earlier stages, oldest first (the config holds the current ones).
    #[serde(default)]
    pub earlier: Vec<Crops>,
    /// The step from which the gain has per-iteration factors (0 for a run that had them from
    /// the start); none for a checkpoint from before they existed.
    #[serde(default)]
    pub iteration_gain_from: Option<u64>,
}

/// Crops a run trained on before step `until`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Crops {
    pub until: u64,
    pub batch: usize,
    pub patch: usize,
}

/// Where the data is and how long to go.
pub struct Plan {
    pub dir: PathBuf,
    pub train: Vec<PathBuf>,
    pub steps: u64,
    /// From this step on the learning rate is a tenth (the end of a run's schedule).
    pub decay_from: Option<u64>,
    /// From this step on the codes are binarised with their sign, as when coding.
    pub sign_from: Option<u64>,
    pub max_seconds: Option<f64>,
    pub checkpoint_every: f64,
    pub progress: bool,
}

impl RunConfig {
    pub fn variant(&self) -> Result<Variant> {
        Variant::from_name(&self.variant)
            .ok_or_else(|| Error::InvalidParam(format!("unknown variant '{}'", self.variant)))
    }
}

/// Loads the run in `dir`, if any.
pub fn load_run(
    dir: &std::path::Path,
    device: &Device,
) -> Result<Option<(RecurrentModel, ModuleOptimizer, RunState)>> {
    checkpoint::load(dir, |s: &RunState| {
        let model = RecurrentModel::new(s.config.variant()?, &mut Rng::new(s.config.seed), device);
        Ok(if s.iteration_gain_from.is_some() {
            model
        } else {
            model.without_iteration_gain()
        })
    })
}

/// The loss of one batch: Σ over iterations of the mean absolute residual. The codes are
/// binarised at random with `rng`, or with their sign when it is `None`.
fn loss(
    model: &RecurrentModel,
    x: Tensor<4>,
    iterations: usize,
    mut rng: Option<&mut Rng>,
) -> (Tensor<1>, Vec<f32>) {
    let [b, _, h, w] = x.dims();
    let mut p = model.start(b, h, w, &x.device());
    let mut total: Option<Tensor<1>> = None;
    let mut per_iter = Vec::new();
    let mut residual = x.clone();
    for _ in 0..iterations {
        let codes = model.encode_step(residual, &mut p);
        let bits = match rng.as_deref_mut() {
            Some(rng) => binarize_noisy(codes, rng),
            None => binarize_straight(codes),
        };
        let picture = model.decode_step(bits, &mut p);
        residual = x.clone() - picture;
        let l = residual.clone().abs().mean();
        per_iter.push(scalar(&l));
        total = Some(match total {
            Some(t) => t + l,
            None => l,
        });
    }
    (total.expect("at least one iteration"), per_iter)
}

/// Runs (or resumes) training until `plan.steps` or `plan.max_seconds`.
pub fn run(cfg: RunConfig, plan: &Plan) -> Result<RunState> {
    if cfg.iterations == 0 || !cfg.patch.is_multiple_of(super::model::ALIGN) {
        return Err(Error::InvalidParam(
            "iterations must be positive and the patch a multiple of 16".into(),
        ));
    }
    let device = checkpoint::train_device();
    let (mut model, mut optim, mut state) = match load_run(&plan.dir, &device)? {
        Some((m, o, mut s)) => {
            if (RunConfig {
                lr: cfg.lr,
                batch: cfg.batch,
                patch: cfg.patch,
                ..s.config.clone()
            }) != cfg
            {
                return Err(Error::InvalidParam(format!(
                    "{} holds a run with other settings ({:?})",
                    plan.dir.display(),
                    s.config
                )));
            }
            if (s.config.batch, s.config.patch) != (cfg.batch, cfg.patch) {
                s.earlier.push(Crops {
                    until: s.step,
                    batch: s.config.batch,
                    patch: s.config.patch,
                });
            }
            s.config = cfg.clone();
            // A run from before the gain's per-iteration factors goes on with them.
            let m = m.with_iteration_gain(&device);
            if m.has_iteration_gain() && s.iteration_gain_from.is_none() {
                s.iteration_gain_from = Some(s.step);
            }
            (m, o, s)
        }
        None => {
            let mut rng = Rng::new(cfg.seed);
            let model = RecurrentModel::new(cfg.variant()?, &mut rng, &device);
            let state = RunState {
                config: cfg.clone(),
                step: 0,
                rng: rng.state,
                seconds: 0.0,
                decay_from: None,
                sign_from: None,
                earlier: Vec::new(),
                iteration_gain_from: model.has_iteration_gain().then_some(0),
            };
            (model, checkpoint::optimiser(), state)
        }
    };
    state.decay_from = plan.decay_from;
    state.sign_from = plan.sign_from;
    std::fs::create_dir_all(&plan.dir)?;
    let photos: Vec<Photo> = data::load_folders(&plan.train, cfg.patch)?;
    let mut log = append_csv(
        &plan.dir.join("train.csv"),
        "step,loss,first_iteration_l1,last_iteration_l1,seconds",
    )?;
    let bar = checkpoint::progress_bar(plan.progress, plan.steps, state.step);
    let mut rng = Rng::new(state.rng);
    let mut pacer = checkpoint::Pacer::new(&plan.dir, plan.checkpoint_every, plan.max_seconds);
    while state.step < plan.steps {
        let t = Instant::now();
        let (b, p) = (cfg.batch, cfg.patch);
        let v: Vec<f32> = data::random_batch(&photos, b, p, &mut rng)
            .into_iter()
            .map(|x| x - 0.5)
            .collect();
        // Each half of the batch binarises with its own generator.
        let seeds = [rng.next_u64(), rng.next_u64()];
        let step = state.step;
        let (parts, grads) = checkpoint::gradients_in_halves(&model, &device, b, |m, items| {
            let share = items.len() as f32 / b as f32;
            let x = Tensor::<4>::from_data(
                TensorData::new(v[items.start * 3 * p * p..items.end * 3 * p * p].to_vec(), [items.len(), 3, p, p]),
                &device,
            );
            let mut noise = Rng::new(seeds[usize::from(items.start > 0)]);
            let random = plan.sign_from.is_none_or(|from| step < from);
            let (l, per_iter) = loss(m, x, cfg.iterations, random.then_some(&mut noise));
            let per_iter: Vec<f32> = per_iter.iter().map(|e| e * share).collect();
            (l * share, per_iter)
        });
        let per_iter: Vec<f32> =
            (0..cfg.iterations).map(|i| parts.iter().map(|part| part[i]).sum()).collect();
        let value: f32 = per_iter.iter().sum();
        if !value.is_finite() {
            return Err(Error::InvalidParam(format!(
                "training diverged at step {}",
                state.step
            )));
        }
        let lr = checkpoint::learning_rate(cfg.lr, plan.decay_from, state.step);
        model = optim.step(lr, model, grads);
        state.step += 1;
        state.seconds += t.elapsed().as_secs_f64();
        bar.set_position(state.step);
        if state.step % 25 == 0 {
            let (first, last) = (per_iter[0], per_iter[per_iter.len() - 1]);
            writeln!(
                log,
                "{},{value:.5},{first:.5},{last:.5},{:.1}",
                state.step, state.seconds
            )?;
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
/// beside it.
pub fn export(
    dir: &std::path::Path,
    out: &std::path::Path,
    force: bool,
) -> Result<super::codec::Meta> {
    let (model, _, state) = load_run(dir, &checkpoint::train_device())?
        .ok_or_else(|| Error::InvalidParam(format!("no run in {}", dir.display())))?;
    let c = &state.config;
    let meta = super::codec::Meta {
        variant: c.variant.clone(),
        iterations: c.iterations,
        step: state.step,
        seconds: state.seconds,
        iteration_gain: model.has_iteration_gain(),
    };
    let bytes = crate::photo::weights::export(&model, &meta)?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    tessera_core::io::write_atomic(out, &bytes, force)?;
    let name = out
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let train_cmd = |batch: usize, patch: usize, steps: u64, decay: Option<u64>, sign: Option<u64>| {
        format!(
            "tessera train rnn --variant {} --iterations {} --batch {batch} --patch {patch} --lr {} --seed {} --steps {steps}{}{} --dir {}\n",
            c.variant,
            c.iterations,
            c.lr,
            c.seed,
            decay.map(|d| format!(" --decay-from {d}")).unwrap_or_default(),
            sign.map(|d| format!(" --sign-from {d}")).unwrap_or_default(),
            dir.display()
        )
    };
    let mut crops = String::new();
    let mut commands = String::new();
    for e in &state.earlier {
        crops += &format!("{p}×{p} in batches of {b} until step {u}, then ", p = e.patch, b = e.batch, u = e.until);
        commands += &train_cmd(e.batch, e.patch, e.until, None, None);
    }
    crops += &format!("{p}×{p} in batches of {b}", p = c.patch, b = c.batch);
    commands += &train_cmd(c.batch, c.patch, state.step, state.decay_from, state.sign_from);
    let card = format!(
        "# {name}\n\nRecurrent progressive codec (Toderici et al. 2017), variant `{v}`: encoder conv 3×3/2 3→32 and three \
         3×3/2 recurrent layers (64, 64, 64 channels), binariser 1×1 → {bits} maps at 1/16 resolution (tanh, stochastic \
         binarisation in training, sign when coding: {raw} raw bits per pixel per iteration), decoder 1×1 {bits}→64 and four \
         recurrent layers (64, 64, 32, 16; 3×3 input and 1×1 hidden kernels) each followed by depth-to-space ×2, output 1×1 → RGB (tanh).{gain} Channel counts are an \
         eighth of the paper's so that training runs on a 2-core CPU. Weights in f16 ({len} bytes).\n\n\
         ## Training\n\nRandom crops with flips from CID22 training and CLIC 2025 valid-half ({crops}); loss the mean absolute \
         residual summed over {it} iterations; Adam, learning rate {lr}, {decay_text}seed {seed}; {step} steps in {hours:.2} \
         hours on this 2-core machine.\n\n```\n{commands}tessera train export --run {dir} --out models/{name}.safetensors\n```\n\n\
         Curves: `train.csv` in the run folder. Kodak results: BENCHMARKS.md, section \"Recurrent codec\".\n",
        v = c.variant,
        gain = gain_text(&model, &state),
        bits = super::model::BITS,
        raw = super::model::BITS as f64 / 256.0,
        len = bytes.len(),
        it = c.iterations,
        lr = c.lr,
        seed = c.seed,
        step = state.step,
        hours = state.seconds / 3600.0,
        dir = dir.display(),
        decay_text = state.decay_from.map(|d| format!("a tenth of it from step {d}, ")).unwrap_or_default()
            + &state.sign_from.map(|d| format!("the codes binarised with their sign from step {d}, ")).unwrap_or_default(),
    );
    tessera_core::io::write_atomic(&out.with_extension("md"), card.as_bytes(), true)?;
    Ok(meta)
}

/// The model card's words on the residual-scaling gain, if the model has one.
fn gain_text(model: &RecurrentModel, state: &RunState) -> String {
    if model.gain.is_none() {
        return String::new();
    }
    let mut text = " Residual-scaling gain: conv 3×3/2 3→16, ReLU, 3×3/2 16→16, ReLU, 3×3/2 16→1 on the \
                    picture so far, softplus + 1, one gain per 8×8 block"
        .to_string();
    if model.has_iteration_gain() {
        text += ", times a learned factor per iteration";
        if let Some(from) = state.iteration_gain_from.filter(|&from| from > 0) {
            text += &format!(" (added at step {from})");
        }
    }
    text + "."
}
