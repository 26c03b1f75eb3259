//! `train`: trains the learned codecs' models on the CPU, resumably.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use tessera_neural::photo::train::{self, Plan, RunConfig};

#[derive(Subcommand)]
pub enum Command {
    /// Train a learned codec's model (resumes from the run folder's last checkpoint).
    #[command(subcommand)]
    Train(Model),
}

#[derive(Subcommand)]
pub enum Model {
    /// A photo model: the factorised prior or the mean-scale hyperprior.
    Photo(PhotoArgs),
    /// The checkerboard context model of `checkerboard`, on a shipped hyperprior model that stays frozen.
    Context(ContextArgs),
    /// The progressive recurrent codec's network (one variant: UNIT-FRAMEWORK).
    Rnn(RnnArgs),
    /// The pixel model of the learned lossless digit coder `mnist-lossless`.
    MnistLossless(MnistLosslessArgs),
    /// A lossy digit autoencoder of `mnist-ae` (a rung of its rate ladder, or with --plain the MSE-only comparison model).
    MnistAe(MnistAeArgs),
    /// Write a run's shipped model file (f16 weights and integer coding tables).
    Export {
        /// The run folder.
        #[arg(long)]
        run: PathBuf,
        /// The model file to write, e.g. models/hyperprior-q3.safetensors.
        #[arg(long)]
        out: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// The training folders, named with their digests in the model card written beside
        /// the weights (NAME.md).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "../shared/data/cid22/training,../shared/data/clic2025-valid-half"
        )]
        train: Vec<PathBuf>,
    },
}

#[derive(Args)]
pub struct PhotoArgs {
    /// `factorized` or `hyperprior`.
    #[arg(long)]
    model: String,
    /// Rate–distortion trade-off: loss = λ·255²·MSE + bpp.
    #[arg(long)]
    lambda: f64,
    /// Total steps of the run.
    #[arg(long, default_value_t = 100_000)]
    steps: u64,
    /// Channels inside the transforms.
    #[arg(long, default_value_t = 64)]
    n: usize,
    /// Latent channels.
    #[arg(long, default_value_t = 96)]
    m: usize,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Side of the square training crops.
    #[arg(long, default_value_t = 128)]
    patch: usize,
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Steps between validations (0: never).
    #[arg(long, default_value_t = 1000)]
    validate_every: u64,
    /// From this step on, the synthesis trains on the latents rounded, as it decodes them
    /// (gradient straight through), while the rate stays that of the noisy latents.
    #[arg(long)]
    round_from: Option<u64>,
    #[command(flatten)]
    run: PhotoRun,
}

/// What the photo and context runs share: their folder, data, pace and starting point.
#[derive(Args)]
pub struct PhotoRun {
    /// Run folder (checkpoints, curves).
    #[arg(long)]
    dir: PathBuf,
    /// Checkpoint and stop after this many minutes (creating DIR/STOP does the same at once).
    #[arg(long)]
    minutes: Option<f64>,
    /// From this step on, train at a tenth of the learning rate (the end of the schedule).
    #[arg(long)]
    decay_from: Option<u64>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folders of training photos (PNG).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "../shared/data/cid22/training,../shared/data/clic2025-valid-half"
    )]
    train: Vec<PathBuf>,
    /// Folder of validation photos (PNG); never Kodak.
    #[arg(long, default_value = "../shared/data/cid22/validation")]
    valid: PathBuf,
    /// Seconds between checkpoints.
    #[arg(long, default_value_t = 300.0)]
    checkpoint_every: f64,
    /// Start a new run from another run folder's weights or from a model file: a photo model
    /// fine-tuned for another λ (a model file of the other kind lends its transforms alone; one
    /// with a smaller `--n` or `--m` is widened, computing what it did), or a context from
    /// another context run or a checkerboard model file.
    #[arg(long)]
    init_from: Option<PathBuf>,
}

impl PhotoRun {
    fn plan(self, steps: u64, validate_every: u64) -> Plan {
        Plan {
            dir: self.dir,
            train: self.train,
            valid: Some(self.valid),
            steps,
            decay_from: self.decay_from,
            round_from: None,
            max_seconds: self.minutes.map(|m| m * 60.0),
            checkpoint_every: self.checkpoint_every,
            validate_every,
            init_from: self.init_from,
            progress: true,
        }
    }
}

#[derive(Args)]
pub struct ContextArgs {
    /// The shipped hyperprior model file the context is trained on (its transforms and entropy
    /// model stay as they are), e.g. models/hyperprior-q3.safetensors.
    #[arg(long)]
    base: PathBuf,
    /// Total steps of the run.
    #[arg(long, default_value_t = 10_000)]
    steps: u64,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Side of the square training crops.
    #[arg(long, default_value_t = 256)]
    patch: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Steps between validations (0: never).
    #[arg(long, default_value_t = 250)]
    validate_every: u64,
    #[command(flatten)]
    run: PhotoRun,
}

fn run_context(a: ContextArgs) -> Result<()> {
    use tessera_neural::photo::context_train as ct;
    let cfg = ct::RunConfig {
        base: a.base,
        base_sha256: String::new(),
        batch: a.batch,
        patch: a.patch,
        lr: a.lr,
        seed: a.run.seed,
    };
    let plan = a.run.plan(a.steps, a.validate_every);
    let state = ct::run(cfg, &plan)?;
    report(&plan.dir, state.step, state.seconds);
    Ok(())
}

#[derive(Args)]
pub struct RnnArgs {
    /// lstm, alstm (associative), gru or resgru, then oneshot, additive or scaling: e.g. gru-additive.
    #[arg(long, default_value = "resgru-scaling")]
    variant: String,
    /// Iterations per training crop.
    #[arg(long, default_value_t = 8)]
    iterations: usize,
    /// Run folder (checkpoints, curves).
    #[arg(long)]
    dir: PathBuf,
    /// Total steps of the run.
    #[arg(long, default_value_t = 100_000)]
    steps: u64,
    /// Checkpoint and stop after this many minutes.
    #[arg(long)]
    minutes: Option<f64>,
    /// From this step on, train at a tenth of the learning rate (the end of the schedule).
    #[arg(long)]
    decay_from: Option<u64>,
    /// From this step on, binarise with the sign, as coding does, instead of at random.
    #[arg(long)]
    sign_from: Option<u64>,
    /// Crops per step [default: the run's, 16 for a new run].
    #[arg(long)]
    batch: Option<usize>,
    /// Side of the square training crops, a multiple of 16 [default: the run's, 32 for a new
    /// run]. A run may go on to larger crops; its model card lists each stage.
    #[arg(long)]
    patch: Option<usize>,
    #[arg(long, default_value_t = 5e-4)]
    lr: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folders of training photos (PNG).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "../shared/data/cid22/training,../shared/data/clic2025-valid-half"
    )]
    train: Vec<PathBuf>,
}

#[derive(Args)]
pub struct MnistLosslessArgs {
    /// Run folder (checkpoints, curves).
    #[arg(long)]
    dir: PathBuf,
    /// Total steps of the run.
    #[arg(long, default_value_t = 100_000)]
    steps: u64,
    /// Checkpoint and stop after this many minutes.
    #[arg(long)]
    minutes: Option<f64>,
    /// From this step on, train at a tenth of the learning rate.
    #[arg(long)]
    decay_from: Option<u64>,
    /// Rows above (and columns either side) the causal window reaches.
    #[arg(long, default_value_t = 8)]
    radius: usize,
    /// Width of the hidden layers.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Hidden 1×1 layers after the masked convolution.
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Digits per step.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder holding MNIST's training split (train-images-idx3-ubyte[.gz]).
    #[arg(long, default_value = "../shared/data/mnist")]
    data: PathBuf,
    /// Steps between validations (the held-out digits coded for real; 0: never).
    #[arg(long, default_value_t = 1000)]
    validate_every: u64,
}

#[derive(Args)]
pub struct MnistAeArgs {
    /// Rate–distortion trade-off: loss = λ·255²·MSE + bpp (with --plain, the MSE weight).
    #[arg(long)]
    lambda: f64,
    /// Run folder (checkpoints, curve).
    #[arg(long)]
    dir: PathBuf,
    /// Total steps of the run.
    #[arg(long, default_value_t = 100_000)]
    steps: u64,
    /// Checkpoint and stop after this many minutes.
    #[arg(long)]
    minutes: Option<f64>,
    /// From this step on, train at a tenth of the learning rate.
    #[arg(long)]
    decay_from: Option<u64>,
    /// Latent channels (the latent is C×7×7).
    #[arg(long, default_value_t = 16)]
    latent: usize,
    /// Channels inside the transforms.
    #[arg(long, default_value_t = 32)]
    n: usize,
    /// Train without a rate term: MSE plus --l2 times the mean squared latent.
    #[arg(long)]
    plain: bool,
    /// Weight of the L2 penalty on the latents (with --plain).
    #[arg(long, default_value_t = 0.01)]
    l2: f64,
    /// Digits per step.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder holding MNIST's training split (train-images-idx3-ubyte[.gz]).
    #[arg(long, default_value = "../shared/data/mnist")]
    data: PathBuf,
}

fn run_mnist_ae(a: MnistAeArgs) -> Result<()> {
    use tessera_neural::mnist::autoencoder::{model::Shape, train as at};
    let cfg = at::RunConfig {
        shape: Shape { n: a.n, m: a.latent },
        lambda: a.lambda,
        plain: a.plain,
        l2: if a.plain { a.l2 } else { 0.0 },
        batch: a.batch,
        lr: a.lr,
        seed: a.seed,
    };
    let plan = at::Plan {
        dir: a.dir,
        data: a.data,
        steps: a.steps,
        decay_from: a.decay_from,
        max_seconds: a.minutes.map(|m| m * 60.0),
        checkpoint_every: 120.0,
        progress: true,
    };
    let state = at::run(cfg, &plan)?;
    report(&plan.dir, state.step, state.seconds);
    Ok(())
}

fn run_mnist_lossless(a: MnistLosslessArgs) -> Result<()> {
    use tessera_neural::mnist::lossless::{model::Shape, train as lt};
    let cfg = lt::RunConfig {
        shape: Shape { radius: a.radius, hidden: a.hidden, layers: a.layers },
        batch: a.batch,
        lr: a.lr,
        seed: a.seed,
    };
    let plan = lt::Plan {
        dir: a.dir,
        data: a.data,
        steps: a.steps,
        decay_from: a.decay_from,
        max_seconds: a.minutes.map(|m| m * 60.0),
        checkpoint_every: 300.0,
        validate_every: a.validate_every,
        progress: true,
    };
    let state = lt::run(cfg, &plan)?;
    report(&plan.dir, state.step, state.seconds);
    Ok(())
}

fn run_rnn(a: RnnArgs) -> Result<()> {
    use tessera_neural::recurrent::train as rt;
    // Crops not asked for stay the run's.
    let resumed = tessera_neural::checkpoint::state::<rt::RunState>(&a.dir)?.map(|s| s.config);
    let cfg = rt::RunConfig {
        variant: a.variant,
        iterations: a.iterations,
        batch: a.batch.or(resumed.as_ref().map(|c| c.batch)).unwrap_or(16),
        patch: a.patch.or(resumed.as_ref().map(|c| c.patch)).unwrap_or(32),
        lr: a.lr,
        seed: a.seed,
    };
    let plan = rt::Plan {
        dir: a.dir,
        train: a.train,
        steps: a.steps,
        decay_from: a.decay_from,
        sign_from: a.sign_from,
        max_seconds: a.minutes.map(|m| m * 60.0),
        checkpoint_every: 300.0,
        progress: true,
    };
    let state = rt::run(cfg, &plan)?;
    report(&plan.dir, state.step, state.seconds);
    Ok(())
}

pub fn run(cmd: Command) -> Result<()> {
    let a = match cmd {
        Command::Train(Model::Photo(a)) => a,
        Command::Train(Model::Context(a)) => return run_context(a),
        Command::Train(Model::Rnn(a)) => return run_rnn(a),
        Command::Train(Model::MnistLossless(a)) => return run_mnist_lossless(a),
        Command::Train(Model::MnistAe(a)) => return run_mnist_ae(a),
        Command::Train(Model::Export {
            run,
            out,
            force,
            train: folders,
        }) => {
            let state = std::fs::read_to_string(run.join("resume.json")).unwrap_or_default();
            if state.contains("\"plain\"") {
                use tessera_neural::mnist::{autoencoder::train as at, data};
                let folder = PathBuf::from("../shared/data/mnist");
                let folder = folders.first().filter(|f| f.join("train-images-idx3-ubyte.gz").exists()).unwrap_or(&folder);
                let (meta, r) = at::export(&run, &out, force, folder, &data::embedded_test_set()?)?;
                eprintln!("{}: mnist-ae λ={} after {} steps: {:.4} bpp, {:.2} dB on the test set", out.display(), meta.lambda, meta.step, r.bpp, r.psnr);
                return Ok(());
            }
            if state.contains("\"radius\"") {
                use tessera_neural::mnist::{data, lossless::train as lt};
                let folder = PathBuf::from("../shared/data/mnist");
                let folder = folders.first().filter(|f| f.join("train-images-idx3-ubyte.gz").exists()).unwrap_or(&folder);
                let meta = lt::export(&run, &out, force, folder, &data::embedded_test_set()?)?;
                eprintln!("{}: mnist-lossless after {} steps ({:.0} s)", out.display(), meta.step, meta.seconds);
                return Ok(());
            }
            if state.contains("\"base_sha256\"") {
                let meta = tessera_neural::photo::context_train::export(&run, &out, force)?;
                eprintln!("{}: checkerboard context on {} after {} steps ({:.0} s)", out.display(), meta.base.map(|b| b.name).unwrap_or_default(), meta.step, meta.seconds);
                return Ok(());
            }
            if state.contains("\"variant\"") {
                let meta = tessera_neural::recurrent::train::export(&run, &out, force)?;
                eprintln!(
                    "{}: rnn {} after {} steps ({:.0} s)",
                    out.display(),
                    meta.variant,
                    meta.step,
                    meta.seconds
                );
                return Ok(());
            }
            let meta = train::export_with_card(&run, &out, force, Some(&folders))?;
            eprintln!(
                "{}: {} λ={} after {} steps ({:.0} s)",
                out.display(),
                meta.kind,
                meta.lambda,
                meta.step,
                meta.seconds
            );
            return Ok(());
        }
    };
    let cfg = RunConfig {
        kind: a.model,
        n: a.n,
        m: a.m,
        lambda: a.lambda,
        batch: a.batch,
        patch: a.patch,
        lr: a.lr,
        seed: a.run.seed,
    };
    let plan = Plan { round_from: a.round_from, ..a.run.plan(a.steps, a.validate_every) };
    let state = train::run(cfg, &plan)?;
    report(&plan.dir, state.step, state.seconds);
    Ok(())
}

/// Where a training invocation left its run.
fn report(dir: &std::path::Path, step: u64, seconds: f64) {
    eprintln!("{}: step {step} after {seconds:.0} s of training", dir.display());
}
