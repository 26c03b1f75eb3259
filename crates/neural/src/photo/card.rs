//! Model cards: what a shipped model file is, what it was trained on and how to make it again.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tessera_core::{hex, Result};

use super::train::RunState;
use super::weights::Meta;

/// A folder's training photos named by one digest: SHA-256 over the sorted lines
/// `sha256(file)  name` of its PNG files (the same convention as `sha256sum`).
pub fn folder_digest(folder: &Path) -> Result<(usize, String)> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(folder)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    names.sort();
    let mut all = Sha256::new();
    for p in &names {
        let h = Sha256::digest(std::fs::read(p)?);
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        all.update(format!("{}  {name}\n", hex(&h)));
    }
    Ok((names.len(), hex(&all.finalize())))
}

/// The card of model `name` (`hyperprior-q3`) exported from a run.
pub fn write(
    name: &str,
    meta: &Meta,
    state: &RunState,
    run_dir: &Path,
    train: &[PathBuf],
    weights: &[u8],
) -> Result<String> {
    let c = &state.config;
    let mut s = String::new();
    let _ = writeln!(s, "# {name}\n");
    let family = if c.kind == "hyperprior" {
        "mean-scale hyperprior (Minnen et al. 2018, without the autoregressive context)"
    } else {
        "factorised prior (Ballé et al. 2018)"
    };
    let _ = writeln!(s, "Learned photo codec `{}`, quality {}: {family}, trained for λ = {} (loss λ·255²·MSE + bpp).\n", c.kind, name.rsplit('q').next().unwrap_or("?"), c.lambda);
    let _ = writeln!(s, "## Architecture\n");
    let _ = writeln!(s, "| part | layers |\n|---|---|");
    let _ = writeln!(s, "| analysis g_a | conv 5×5/2 3→{n}, GDN, conv 5×5/2 {n}→{n}, GDN, conv 5×5/2 {n}→{n}, GDN, conv 5×5/2 {n}→{m} |", n = c.n, m = c.m);
    let _ = writeln!(s, "| synthesis g_s | deconv 5×5/2 {m}→{n}, IGDN, deconv 5×5/2 {n}→{n}, IGDN, deconv 5×5/2 {n}→{n}, IGDN, deconv 5×5/2 {n}→3 |", n = c.n, m = c.m);
    if c.kind == "hyperprior" {
        let _ = writeln!(s, "| hyper-analysis h_a | conv 3×3 {m}→{n}, ReLU, conv 5×5/2 {n}→{n}, ReLU, conv 5×5/2 {n}→{n} |", n = c.n, m = c.m);
        let _ = writeln!(s, "| hyper-synthesis h_s | deconv 5×5/2 {n}→{m}, ReLU, deconv 5×5/2 {m}→{mid}, ReLU, conv 3×3 {mid}→{m2} (means, scales); run in fixed point when coding |", n = c.n, m = c.m, mid = c.m * 3 / 2, m2 = 2 * c.m);
        let _ = writeln!(s, "| entropy model | Gaussian conditional over y (64 scale tables, 16-bit), learned factorised density over z ({} channels) |", c.n);
    } else {
        let _ = writeln!(s, "| entropy model | learned factorised density over y ({} channels), 16-bit integer tables |", c.m);
    }
    let _ = writeln!(s, "\nChannel counts N = {}, M = {} (CompressAI uses 128/192): sized so that a training step of a batch of {} crops of {}×{} takes about half a second on the 2-core CPU this was trained on, which leaves room for thousands of steps per working session. Weights are stored in f16 ({} bytes).\n", c.n, c.m, c.batch, c.patch, c.patch, weights.len());
    let _ = writeln!(s, "## Data\n");
    for f in train {
        match folder_digest(f) {
            Ok((count, digest)) => {
                let _ = writeln!(
                    s,
                    "- `{}`: {count} PNG photos, digest `{digest}`",
                    f.display()
                );
            }
            Err(_) => {
                let _ = writeln!(
                    s,
                    "- `{}` (not present when this card was written)",
                    f.display()
                );
            }
        }
    }
    let _ = writeln!(s, "\nRandom {p}×{p} crops with horizontal and vertical flips; validation on the centre 256×256 crops of `cid22/validation` (never Kodak). The digest is SHA-256 over the sorted lines `sha256(file)  name`.\n", p = c.patch);
    let decay_text = state.decay_from.map(|d| format!("a tenth of it from step {d}, ")).unwrap_or_default();
    let decay_arg = state.decay_from.map(|d| format!(" --decay-from {d}")).unwrap_or_default();
    let round_text = state
        .round_from
        .map(|r| format!(" From step {r} the synthesis trained on the latents rounded, as it decodes them (gradient straight through), the rate on noisy ones."))
        .unwrap_or_default();
    let round_arg = state.round_from.map(|r| format!(" --round-from {r}")).unwrap_or_default();
    let _ = writeln!(s, "## Training\n");
    let _ = writeln!(s, "Adam (ε 1e-8, per-tensor gradient-norm clip 1.0), learning rate {}, {}batch {}, seed {}; {} steps in {:.1} hours of CPU training on this 2-core machine.{round_text}\n", c.lr, decay_text, c.batch, c.seed, meta.step, meta.seconds / 3600.0);
    let from = state
        .init_from
        .as_ref()
        .map(|f| format!(" --init-from {}", f.display()))
        .unwrap_or_default();
    let _ = writeln!(s, "```\ntessera train photo --model {} --lambda {} --n {} --m {} --batch {} --patch {} --lr {} --seed {} --steps {}{decay_arg}{round_arg} --dir {}{from}\ntessera train export --run {} --out models/{name}.safetensors\n```\n", c.kind, c.lambda, c.n, c.m, c.batch, c.patch, c.lr, c.seed, meta.step, run_dir.display(), run_dir.display());
    let schedule = if c.kind == "factorized" {
        "The mid-rate model (q3) starts from the transforms of the shipped `hyperprior-q3` and learns its own factorised density; the other rates are fine-tuned from it"
    } else {
        "The mid-rate model (q3) trains from scratch and ends at a tenth of the rate in a copy of its run; q1, q2 and q4 are fine-tuned from that, q5 from q4"
    };
    let _ = writeln!(s, "{schedule} (`--init-from`), as `scripts/train-photo.sh` does. Curves: `train.csv` and `valid.csv` in the run folder.\n");
    let _ = writeln!(s, "## Results\n");
    if let Some(last) = std::fs::read_to_string(run_dir.join("valid.csv"))
        .ok()
        .and_then(|v| v.lines().skip(1).last().map(str::to_string))
    {
        let f: Vec<&str> = last.split(',').collect();
        if f.len() >= 3 {
            let _ = writeln!(s, "Validation (cid22, centre crops, rounding) at step {}: {} bpp (estimated), {} dB PSNR.\n", f[0], f[1], f[2]);
        }
    }
    let _ = writeln!(s, "Kodak rate–distortion points beside the reference codecs: BENCHMARKS.md, section \"Learned photo codecs\".");
    Ok(s)
}
