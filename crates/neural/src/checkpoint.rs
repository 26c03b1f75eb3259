//! What every training loop here shares: the autodiff device, the optimiser, exact
//! checkpoints (`resume-model.bpk`, `resume-optim.bpk`, `resume.json`) and CSV curves.

use std::io::Write;
use std::ops::Range;
use std::path::Path;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_core::{Error, Result};

/// An error naming the file it concerns.
pub fn io_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::InvalidParam(format!("{}: {e}", path.display()))
}

/// The training device: burn's Flex CPU backend with autodiff.
pub fn train_device() -> Device {
    Device::flex().autodiff()
}

/// Adam with a per-tensor gradient-norm clip, as every model here trains.
pub fn optimiser() -> ModuleOptimizer {
    AdamConfig::new()
        .with_epsilon(1e-8)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init()
}

/// A batch's loss and gradients, computed in two parts on two threads. `part(model, items)`
/// gives that range of the batch's share of the loss (the parts add up to the batch's loss)
/// and whatever numbers the caller wants back from it; they come back in batch order. One graph
/// of these small layers keeps little more than one core busy, so two nearly double the items
/// trained a second. A batch of one runs as one part.
///
/// The parts run under `rayon::join`, so inside a one-thread pool (as the tests that compare
/// runs bit for bit use) they run one after the other, in the same order every time.
pub fn gradients_in_halves<M, T, F>(model: &M, device: &Device, batch: usize, part: F) -> (Vec<T>, GradientsParams)
where
    M: Module + Sync,
    T: Send,
    F: Fn(&M, Range<usize>) -> (Tensor<1>, T) + Sync,
{
    let run = |m: &M, items: Range<usize>| {
        let (loss, numbers) = part(m, items);
        (numbers, GradientsParams::from_grads(loss.backward(), m))
    };
    let first = batch / 2;
    if first == 0 {
        let (numbers, grads) = run(model, 0..batch);
        return (vec![numbers], grads);
    }
    // A fork holds the same weights as new graph leaves: burn's autodiff merges graphs that
    // share a leaf and runs a backward pass under its graph's lock, so halves on one model
    // would wait for each other.
    let fork = model.clone().fork(device);
    let (a, b) = rayon::join(|| run(&fork, 0..first), || run(model, first..batch));
    let mut sum = GradientsAccumulator::new();
    sum.accumulate(model, a.1);
    sum.accumulate(model, b.1);
    (vec![a.0, b.0], sum.grads())
}

/// Loads the checkpoint in `dir`, if there is one: the state, then the model `make` builds
/// from it with the saved weights (parameter ids included, so the optimiser state matches).
pub fn load<M: Module, S: DeserializeOwned>(
    dir: &Path,
    make: impl FnOnce(&S) -> Result<M>,
) -> Result<Option<(M, ModuleOptimizer, S)>> {
    let Some(state) = state::<S>(dir)? else {
        return Ok(None);
    };
    let model = make(&state)?
        .try_load_file(dir.join("resume-model.bpk"))
        .map_err(|e| io_err(&dir.join("resume-model.bpk"), e))?;
    let optim = optimiser()
        .load(dir.join("resume-optim.bpk"))
        .map_err(|e| io_err(&dir.join("resume-optim.bpk"), e))?;
    Ok(Some((model, optim, state)))
}

/// The state of the checkpoint in `dir`, if there is one, without loading its weights.
pub fn state<S: DeserializeOwned>(dir: &Path) -> Result<Option<S>> {
    let path = dir.join("resume.json");
    if !path.exists() {
        return Ok(None);
    }
    serde_json::from_slice(&std::fs::read(&path)?)
        .map(Some)
        .map_err(|e| io_err(&path, e))
}

/// Writes a checkpoint: weights and optimiser first, the state file last, so that a state
/// file always names a complete checkpoint (each file is itself written atomically).
pub fn save<M: Module + Clone, S: Serialize>(
    dir: &Path,
    model: &M,
    optim: &ModuleOptimizer,
    state: &S,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    model
        .clone()
        .save_file(dir.join("resume-model.bpk"))
        .map_err(|e| io_err(dir, e))?;
    optim
        .save(dir.join("resume-optim.bpk"))
        .map_err(|e| io_err(dir, e))?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| io_err(dir, e))?;
    tessera_core::io::write_atomic(&dir.join("resume.json"), &json, true)
}

/// Opens a CSV curve for appending, writing the header if the file is new.
pub fn append_csv(path: &Path, header: &str) -> Result<std::fs::File> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if new {
        writeln!(f, "{header}")?;
    }
    Ok(f)
}

/// The value of a one-element tensor (NaN if it cannot be read).
pub fn scalar(t: &Tensor<1>) -> f32 {
    t.to_data()
        .try_to_vec::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f32::NAN)
}

/// The learning rate of step `step`: `lr`, and a tenth of it from step `decay_from` on (the end
/// of every trainer's schedule).
pub fn learning_rate(lr: f64, decay_from: Option<u64>, step: u64) -> f64 {
    if decay_from.is_some_and(|d| step >= d) {
        lr * 0.1
    } else {
        lr
    }
}

/// A training loop's progress bar (hidden unless `show`) over `steps`, at step `at`.
pub fn progress_bar(show: bool, steps: u64, at: u64) -> indicatif::ProgressBar {
    let bar = if show { indicatif::ProgressBar::new(steps) } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps, {per_sec}, eta {eta} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(at);
    bar
}

/// When a training loop checkpoints and stops: every `every` seconds, at the end, after
/// `max_seconds` of this invocation, or at once when the file `DIR/STOP` appears (which asks a
/// running trainer to checkpoint and stop; it is removed when obeyed).
pub struct Pacer {
    started: std::time::Instant,
    last_save: std::time::Instant,
    every: f64,
    max_seconds: Option<f64>,
    stop_file: std::path::PathBuf,
}

impl Pacer {
    pub fn new(dir: &Path, every: f64, max_seconds: Option<f64>) -> Self {
        let now = std::time::Instant::now();
        Self {
            started: now,
            last_save: now,
            every,
            max_seconds,
            stop_file: dir.join("STOP"),
        }
    }

    /// After a step: checkpoints through `save` when it is time (or the run has reached its
    /// end, `finished`, or is stopping) and says whether to stop.
    pub fn after_step(&mut self, finished: bool, save: impl FnOnce() -> Result<()>) -> Result<bool> {
        let stop = self.stop_file.exists()
            || self
                .max_seconds
                .is_some_and(|m| self.started.elapsed().as_secs_f64() >= m);
        if stop || finished || self.last_save.elapsed().as_secs_f64() >= self.every {
            self.last_save = std::time::Instant::now();
            save()?;
        }
        if stop {
            let _ = std::fs::remove_file(&self.stop_file);
        }
        Ok(stop)
    }
}
