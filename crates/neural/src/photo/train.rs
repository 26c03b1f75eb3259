//! Training of the photo models on the CPU: random crops, loss λ·255²·MSE + bpp (+ the
//! auxiliary quantile loss), Adam, periodic validation, checkpoints that resume exactly.
//!
//! A run lives in one folder: `resume-model.bpk` / `resume-optim.bpk` / `resume.json` (the
//! exact state to continue from), `train.csv` and `valid.csv` (the curves). Stopping the
//! process at any time loses at most the work since the last checkpoint.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use tessera_core::{Error, Result};

use super::data::{self, Photo};
use super::model::{Config, Kind, PhotoModel, Quantise};
use crate::checkpoint::{self, append_csv, io_err, scalar};
use crate::rng::Rng;

pub use crate::checkpoint::train_device;

/// What a training run is: stored in `resume.json`, checked when resuming.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    pub kind: String,
    pub n: usize,
    pub m: usize,
    pub lambda: f64,
    pub batch: usize,
    pub patch: usize,
    pub lr: f64,
    pub seed: u64,
}

/// Progress of a run (of a photo model, or of a context model with its own config).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState<C = RunConfig> {
    pub config: C,
    pub step: u64,
    pub rng: u64,
    /// Training seconds so far, over every session.
    pub seconds: f64,
    /// The run (or model file) this one started from, if any.
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    /// The step from which the last invocation trained at a tenth of the learning rate.
    #[serde(default)]
    pub decay_from: Option<u64>,
    /// The step from which the last invocation fed the synthesis rounded latents
    /// ([`Quantise::Mixed`]); photo runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_from: Option<u64>,
}

/// Where the data is and how long to go.
pub struct Plan {
    pub dir: PathBuf,
    pub train: Vec<PathBuf>,
    pub valid: Option<PathBuf>,
    /// Stop when the run reaches this many steps.
    pub steps: u64,
    /// From this step on the learning rate is a tenth (the end of a run's schedule).
    pub decay_from: Option<u64>,
    /// From this step on the synthesis trains on rounded latents ([`Quantise::Mixed`]), as it
    /// decodes, rather than on noisy ones.
    pub round_from: Option<u64>,
    /// Stop (with a checkpoint) after this many seconds of this invocation.
    pub max_seconds: Option<f64>,
    /// Seconds between checkpoints.
    pub checkpoint_every: f64,
    /// Steps between validations (0: never).
    pub validate_every: u64,
    /// Start from this run's weights (a fine-tune for another λ) when `dir` holds no state.
    pub init_from: Option<PathBuf>,
    pub progress: bool,
}

impl RunConfig {
    /// The model shape.
    pub fn model(&self) -> Result<Config> {
        let kind = Kind::from_name(&self.kind)
            .ok_or_else(|| Error::InvalidParam(format!("unknown model '{}'", self.kind)))?;
        Ok(Config {
            kind,
            n: self.n,
            m: self.m,
        })
    }
}

/// Loads the run in `dir` (if any): model, optimiser and state.
pub fn load_run(
    dir: &Path,
    device: &Device,
) -> Result<Option<(PhotoModel, ModuleOptimizer, RunState)>> {
    checkpoint::load(dir, |state: &RunState| {
        Ok(PhotoModel::new(
            state.config.model()?,
            &mut Rng::new(state.config.seed),
            device,
        ))
    })
}

/// One training step's numbers.
pub struct StepStats {
    pub loss: f32,
    pub bpp: f32,
    pub mse: f32,
    pub aux: f32,
}

/// One optimisation step on a batch, its two halves on two threads; `round`: the synthesis
/// sees rounded latents ([`Quantise::Mixed`]).
#[allow(clippy::too_many_arguments)]
pub fn step(
    model: PhotoModel,
    optim: &mut ModuleOptimizer,
    photos: &[Photo],
    cfg: &RunConfig,
    lr: f64,
    round: bool,
    rng: &mut Rng,
    device: &Device,
) -> (PhotoModel, StepStats) {
    let (b, p) = (cfg.batch, cfg.patch);
    let crops = data::random_batch(photos, b, p, rng);
    // Each half draws its quantisation noise from its own generator.
    let seeds = [rng.next_u64(), rng.next_u64()];
    let (parts, grads) = checkpoint::gradients_in_halves(&model, device, b, |m, items| {
        let share = items.len() as f32 / b as f32;
        let x = Tensor::<4>::from_data(
            TensorData::new(
                crops[items.start * 3 * p * p..items.end * 3 * p * p].to_vec(),
                [items.len(), 3, p, p],
            ),
            device,
        );
        let mut noise = Rng::new(seeds[usize::from(items.start > 0)]);
        let q = if round { Quantise::Mixed(&mut noise) } else { Quantise::Noise(&mut noise) };
        let out = m.forward(x.clone(), q);
        let mse = (out.x_hat - x).square().mean() * share;
        let bpp = out.bits / (b * p * p) as f32;
        let mut loss = mse.clone() * (cfg.lambda * 255.0 * 255.0) as f32 + bpp.clone();
        // The auxiliary loss fits the density's quantiles, whatever the items: counted once.
        let mut aux = 0.0;
        if items.start == 0 {
            let a = m.aux_loss();
            aux = scalar(&a);
            loss = loss + a;
        }
        let stats = StepStats {
            loss: scalar(&loss),
            bpp: scalar(&bpp),
            mse: scalar(&mse),
            aux,
        };
        (loss, stats)
    });
    let stats = parts.iter().fold(
        StepStats { loss: 0.0, bpp: 0.0, mse: 0.0, aux: 0.0 },
        |s, t| StepStats { loss: s.loss + t.loss, bpp: s.bpp + t.bpp, mse: s.mse + t.mse, aux: s.aux + t.aux },
    );
    (optim.step(lr, model, grads), stats)
}

/// PSNR of an MSE on the [0, 1] scale.
pub fn psnr(mse: f64) -> f64 {
    -10.0 * mse.max(1e-12).log10()
}

/// Mean (bpp, PSNR) with rounding on the centre crops of the validation photos.
pub fn validate(model: &PhotoModel, photos: &[Photo], device: &Device) -> (f64, f64) {
    let (mut bpp, mut psnr_sum) = (0.0, 0.0);
    for p in photos {
        let (v, w, h) = data::centre_crop(p, 256);
        let x = Tensor::<4>::from_data(TensorData::new(v, [1, 3, h, w]), device).detach();
        let out = model.forward(x.clone(), Quantise::Round);
        let mse = scalar(&(out.x_hat.clamp(0.0, 1.0) - x).square().mean().detach());
        bpp += f64::from(scalar(&out.bits.detach())) / (w * h) as f64;
        psnr_sum += psnr(f64::from(mse));
    }
    let n = photos.len().max(1) as f64;
    (bpp / n, psnr_sum / n)
}

/// The weights a new run starts from: another run folder's last checkpoint, or a shipped model
/// file (so a fine-tune can start from what ships when the run that made it is gone); from a
/// model file of the other kind, only its transforms; from a model of the same kind with
/// fewer channels (smaller `N` or `M`), that model widened ([`super::weights::widen`]).
fn initial_weights(
    mut model: PhotoModel,
    cfg: &Config,
    from: &Path,
    device: &Device,
) -> Result<PhotoModel> {
    let narrower = |theirs: &Config| {
        let (n, m) = (theirs.n, theirs.m);
        theirs.kind == cfg.kind && n <= cfg.n && m <= cfg.m && (n, m) != (cfg.n, cfg.m)
    };
    if from.is_file() {
        let bytes = std::fs::read(from).map_err(|e| io_err(from, e))?;
        let name = from.display().to_string();
        let meta: super::weights::Meta = super::weights::read_meta(&bytes)?;
        let theirs = meta.config()?;
        if narrower(&theirs) {
            let narrow = super::weights::load(&name, &bytes, device)?.model;
            super::weights::widen(&mut model, &narrow)?;
            return Ok(model);
        }
        if (theirs.n, theirs.m) != (cfg.n, cfg.m) {
            return Err(Error::InvalidParam(format!(
                "{name} has N = {}, M = {}; this run has N = {}, M = {}",
                theirs.n, theirs.m, cfg.n, cfg.m
            )));
        }
        // A model of the other kind lends its transforms; the entropy model starts afresh.
        if theirs.kind == cfg.kind {
            super::weights::apply(&mut model, &name, &bytes)?;
        } else {
            super::weights::apply_transforms(&mut model, &name, &bytes)?;
        }
        return Ok(model);
    }
    let Some(state) = checkpoint::state::<RunState>(from)? else {
        return Err(Error::InvalidParam(format!(
            "{} is neither a model file nor a run folder",
            from.display()
        )));
    };
    let shape = state.config.model()?;
    if shape != *cfg && !narrower(&shape) {
        return Err(Error::InvalidParam(format!(
            "{} holds a {} model with N = {}, M = {}; this run is a {} with N = {}, M = {}",
            from.display(),
            shape.kind.name(),
            shape.n,
            shape.m,
            cfg.kind.name(),
            cfg.n,
            cfg.m
        )));
    }
    let file = from.join("resume-model.bpk");
    let theirs = PhotoModel::new(shape, &mut Rng::new(0), device)
        .try_load_file(&file)
        .map_err(|e| io_err(&file, e))?;
    if shape == *cfg {
        return Ok(theirs);
    }
    super::weights::widen(&mut model, &theirs)?;
    Ok(model)
}

/// Creates the run folder and loads the training photos (crops of `patch`) and the validation
/// photos of `plan`.
pub(super) fn load_data(plan: &Plan, patch: usize) -> Result<(Vec<Photo>, Vec<Photo>)> {
    std::fs::create_dir_all(&plan.dir)?;
    let photos = data::load_folders(&plan.train, patch)?;
    let valid = match &plan.valid {
        Some(v) => data::load_folders(std::slice::from_ref(v), 64)?,
        None => Vec::new(),
    };
    Ok((photos, valid))
}

/// Runs (or resumes) training until `plan.steps`.
pub fn run(cfg: RunConfig, plan: &Plan) -> Result<RunState> {
    let device = train_device();
    let (mut model, mut optim, mut state) = match load_run(&plan.dir, &device)? {
        Some((m, o, mut s)) => {
            // The learning rate may change between sessions (a schedule); nothing else may.
            if (RunConfig {
                lr: cfg.lr,
                ..s.config.clone()
            }) != cfg
            {
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
            let mut init_rng = Rng::new(cfg.seed);
            let shape = cfg.model()?;
            if shape.kind == Kind::Checkerboard {
                return Err(Error::InvalidParam(
                    "a checkerboard model's context trains on a shipped hyperprior: `tessera train context`".into(),
                ));
            }
            let mut model = PhotoModel::new(shape, &mut init_rng, &device);
            if let Some(from) = &plan.init_from {
                model = initial_weights(model, &shape, from, &device)?;
            }
            let state = RunState {
                config: cfg.clone(),
                step: 0,
                rng: init_rng.state,
                seconds: 0.0,
                init_from: plan.init_from.clone(),
                decay_from: None,
                round_from: None,
            };
            (model, checkpoint::optimiser(), state)
        }
    };
    state.decay_from = plan.decay_from;
    state.round_from = plan.round_from;
    let (photos, valid) = load_data(plan, cfg.patch)?;
    let mut train_log = append_csv(
        &plan.dir.join("train.csv"),
        "step,loss,bpp,psnr,aux,seconds",
    )?;
    let mut valid_log = append_csv(&plan.dir.join("valid.csv"), "step,bpp,psnr,seconds")?;
    let bar = checkpoint::progress_bar(plan.progress, plan.steps, state.step);
    let mut rng = Rng::new(state.rng);
    let mut pacer = checkpoint::Pacer::new(&plan.dir, plan.checkpoint_every, plan.max_seconds);
    let mut window = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0u32);
    while state.step < plan.steps {
        let t = Instant::now();
        let lr = checkpoint::learning_rate(cfg.lr, plan.decay_from, state.step);
        let round = plan.round_from.is_some_and(|r| state.step >= r);
        let (m, s) = step(model, &mut optim, &photos, &cfg, lr, round, &mut rng, &device);
        model = m;
        state.step += 1;
        state.seconds += t.elapsed().as_secs_f64();
        if !s.loss.is_finite() {
            return Err(Error::InvalidParam(format!(
                "training diverged at step {} (loss {})",
                state.step, s.loss
            )));
        }
        window = (
            window.0 + f64::from(s.loss),
            window.1 + f64::from(s.bpp),
            window.2 + f64::from(s.mse),
            window.3 + f64::from(s.aux),
            window.4 + 1,
        );
        bar.set_position(state.step);
        if state.step % 25 == 0 {
            let n = f64::from(window.4);
            let line = format!(
                "{},{:.5},{:.5},{:.3},{:.2},{:.1}",
                state.step,
                window.0 / n,
                window.1 / n,
                psnr(window.2 / n),
                window.3 / n,
                state.seconds
            );
            writeln!(train_log, "{line}")?;
            bar.set_message(format!(
                "loss {:.4} bpp {:.3} psnr {:.2}",
                window.0 / n,
                window.1 / n,
                psnr(window.2 / n)
            ));
            window = (0.0, 0.0, 0.0, 0.0, 0);
        }
        if !valid.is_empty() && plan.validate_every > 0 && state.step % plan.validate_every == 0 {
            let (bpp, p) = validate(&model, &valid, &device);
            writeln!(
                valid_log,
                "{},{bpp:.5},{p:.3},{:.1}",
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

/// Writes the shipped model file of the run in `dir` (weights in f16, the shape, and the
/// integer coding tables of its factorised density) and, given the training folders, its
/// model card beside it (`NAME.md`). Returns the metadata written.
pub fn export(dir: &Path, out: &Path, force: bool) -> Result<super::weights::Meta> {
    export_with_card(dir, out, force, None)
}

/// [`export`], writing the model card too when `train` names the training folders.
pub fn export_with_card(
    dir: &Path,
    out: &Path,
    force: bool,
    train: Option<&[PathBuf]>,
) -> Result<super::weights::Meta> {
    let device = train_device();
    let (model, _, state) = load_run(dir, &device)?
        .ok_or_else(|| Error::InvalidParam(format!("no run in {}", dir.display())))?;
    let density = match (&model.density, &model.hyper) {
        (Some(d), _) => d,
        (_, Some(h)) => &h.density,
        _ => return Err(Error::corrupt("model without entropy model")),
    };
    let meta = super::weights::Meta {
        kind: state.config.kind.clone(),
        n: state.config.n,
        m: state.config.m,
        lambda: state.config.lambda,
        step: state.step,
        seconds: state.seconds,
        tables: density.tables(super::weights::TABLE_BITS)?,
        base: None,
    };
    let bytes = super::weights::export(&model, &meta)?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    tessera_core::io::write_atomic(out, &bytes, force)?;
    if let Some(train) = train {
        let name = out
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let card = super::card::write(&name, &meta, &state, dir, train, &bytes)?;
        tessera_core::io::write_atomic(&out.with_extension("md"), card.as_bytes(), true)?;
    }
    Ok(meta)
}
