//! The photo codecs end to end on tiny models trained here for a few steps: training resumes
//! exactly, a model starts from the transforms of the other kind, an exported model codes and
//! decodes, decoding is the same on 1 and 2 threads, latents refined for an image lower its
//! cost, other weights (a context beside another base among them) and corrupt payloads are
//! refused, and the committed golden bitstreams (hyperprior and checkerboard) decode to the
//! committed pixels.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tessera_core::io::{encode_image, Format};
use tessera_core::{pipeline, Codec, Container, EncodeParams, Error, Image};
use tessera_neural::photo::codec::{PhotoCodec, MAX_QUALITY};
use tessera_neural::photo::context_train;
use tessera_neural::photo::model::Kind;
use tessera_neural::photo::train::{self, Plan, RunConfig};

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// A smooth photo-like image with some noise.
fn photo(w: u32, h: u32, seed: &mut u64) -> Image {
    let (a, b) = (lcg(seed) % 7 + 1, lcg(seed) % 5 + 1);
    let s: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| {
            [
                ((x * a as u32 + y) % 256) as u8,
                ((y * b as u32) % 256) as u8,
                ((x + y * 2) % 200) as u8,
            ]
        })
        .map(|v| v.wrapping_add((lcg(seed) % 9) as u8))
        .collect();
    Image::from_u8(w, h, 3, &s).unwrap()
}

fn photo_folder(dir: &Path) -> PathBuf {
    let f = dir.join("photos");
    std::fs::create_dir_all(&f).unwrap();
    let mut seed = 5;
    for i in 0..3 {
        std::fs::write(
            f.join(format!("p{i}.png")),
            encode_image(&photo(96, 80, &mut seed), Format::Png).unwrap(),
        )
        .unwrap();
    }
    f
}

fn config(kind: &str) -> RunConfig {
    RunConfig {
        kind: kind.into(),
        n: 8,
        m: 8,
        lambda: 0.01,
        batch: 2,
        patch: 64,
        lr: 1e-3,
        seed: 3,
    }
}

/// A tiny context run on the hyperprior model file `base`.
fn context_config(base: PathBuf) -> context_train::RunConfig {
    context_train::RunConfig {
        base,
        base_sha256: String::new(),
        batch: 2,
        patch: 64,
        lr: 1e-2,
        seed: 3,
    }
}

fn plan(dir: PathBuf, photos: &Path, steps: u64) -> Plan {
    Plan {
        dir,
        train: vec![photos.to_path_buf()],
        valid: Some(photos.to_path_buf()),
        steps,
        decay_from: Some(4),
        round_from: Some(2),
        max_seconds: None,
        checkpoint_every: 1e9,
        validate_every: 2,
        init_from: None,
        progress: false,
    }
}

/// The tests here train on every core; run side by side they would slow each other and share
/// rayon's pool, so each holds this lock.
static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn training_resumes_exactly() {
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let photos = photo_folder(tmp.path());
    let (straight, split) = (tmp.path().join("straight"), tmp.path().join("split"));
    // One thread: rayon splits the backend's sums by work stealing, so with several threads
    // (and another test busy beside this one) the float sums may round differently.
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let run = |dir: &PathBuf, steps| one_thread.install(|| train::run(config("hyperprior"), &plan(dir.clone(), &photos, steps)));
    run(&straight, 5).unwrap();
    run(&split, 3).unwrap();
    let state = run(&split, 5).unwrap();
    assert_eq!(state.step, 5);
    let (a, b) = (
        tmp.path().join("a.safetensors"),
        tmp.path().join("b.safetensors"),
    );
    train::export(&straight, &a, false).unwrap();
    train::export(&split, &b, false).unwrap();
    // Same tensors and same metadata but for the wall-clock seconds.
    let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    let tensors =
        |v: &[u8]| v[8 + u64::from_le_bytes(v[..8].try_into().unwrap()) as usize..].to_vec();
    assert!(
        tensors(&a) == tensors(&b),
        "a resumed run's weights differ from a straight one's"
    );
    let meta = |v: &[u8]| tessera_neural::photo::weights::Meta {
        seconds: 0.0,
        ..tessera_neural::photo::weights::read_meta(v).unwrap()
    };
    assert_eq!(meta(&a), meta(&b));
    let log = std::fs::read_to_string(split.join("valid.csv")).unwrap();
    assert!(log.lines().count() >= 3, "validation curve: {log}");
    // Validating every 0 steps means never.
    let never = tmp.path().join("never");
    one_thread.install(|| train::run(config("hyperprior"), &Plan { validate_every: 0, ..plan(never.clone(), &photos, 1) })).unwrap();
    let log = std::fs::read_to_string(never.join("valid.csv")).unwrap_or_default();
    assert!(log.lines().count() <= 1, "validation curve: {log}");
    // Another run's settings are refused rather than mixed into the checkpoint.
    let mut other = config("hyperprior");
    other.lambda = 0.02;
    assert!(train::run(other, &plan(split, &photos, 6)).is_err());
}

/// The bytes of each tensor of safetensors file `file` whose name starts with `prefix`.
fn tensors_named(file: &[u8], prefix: &str) -> Vec<(String, Vec<u8>)> {
    let len = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&file[8..8 + len]).unwrap();
    let data = &file[8 + len..];
    let mut out: Vec<(String, Vec<u8>)> = header
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(name, t)| {
            let at = |i: usize| t["data_offsets"][i].as_u64().unwrap() as usize;
            (name.clone(), data[at(0)..at(1)].to_vec())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_model_starts_from_the_transforms_of_the_other_kind() {
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let photos = photo_folder(tmp.path());
    let hyper = tmp.path().join("hyperprior");
    train::run(config("hyperprior"), &plan(hyper.clone(), &photos, 2)).unwrap();
    let hyper_file = tmp.path().join("hyperprior.safetensors");
    train::export(&hyper, &hyper_file, false).unwrap();
    // One step at a learning rate of zero: the weights stay where they started.
    let cross = tmp.path().join("factorized");
    let still = RunConfig {
        lr: 0.0,
        ..config("factorized")
    };
    let from = Plan {
        init_from: Some(hyper_file.clone()),
        ..plan(cross.clone(), &photos, 1)
    };
    train::run(still, &from).unwrap();
    let cross_file = tmp.path().join("factorized.safetensors");
    train::export(&cross, &cross_file, false).unwrap();
    let a = std::fs::read(&hyper_file).unwrap();
    let b = std::fs::read(&cross_file).unwrap();
    for part in ["analysis.", "synthesis."] {
        let theirs = tensors_named(&a, part);
        assert!(!theirs.is_empty(), "no {part} tensors");
        assert!(
            theirs == tensors_named(&b, part),
            "{part} differs from the file it started from"
        );
    }
    assert!(!tensors_named(&b, "density.").is_empty());
    // Transforms of another shape are refused.
    let wider = RunConfig {
        m: 16,
        ..config("factorized")
    };
    let p = Plan {
        init_from: Some(hyper_file),
        ..plan(tmp.path().join("wider"), &photos, 1)
    };
    assert!(matches!(train::run(wider, &p), Err(Error::InvalidParam(_))));
}

fn decode_with_threads(bytes: &[u8], threads: usize, codec: &PhotoCodec) -> Image {
    let c = Container::from_bytes(bytes).unwrap();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| pipeline::decode_container(codec, &c))
        .unwrap()
}

/// One test owns `TESSERA_MODELS` for this test binary (tests run on threads of one process).
#[test]
fn codecs_round_trip_and_refuse_what_they_cannot_decode() {
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let photos = photo_folder(tmp.path());
    let models = tmp.path().join("models");
    let other = tmp.path().join("other");
    for kind in ["factorized", "hyperprior"] {
        let run = tmp.path().join(kind);
        train::run(config(kind), &plan(run.clone(), &photos, 3)).unwrap();
        train::export(&run, &models.join(format!("{kind}-q1.safetensors")), false).unwrap();
        let mut cfg = config(kind);
        cfg.seed = 4;
        let run2 = tmp.path().join(format!("{kind}-2"));
        train::run(cfg, &plan(run2.clone(), &photos, 2)).unwrap();
        train::export(&run2, &other.join(format!("{kind}-q1.safetensors")), false).unwrap();
    }
    // Checkerboard models: a context trained on each folder's hyperprior.
    for (dir, name) in [(&models, "context"), (&other, "context-2")] {
        let run = tmp.path().join(name);
        context_train::run(context_config(dir.join("hyperprior-q1.safetensors")), &plan(run.clone(), &photos, 3)).unwrap();
        context_train::export(&run, &dir.join("checkerboard-q1.safetensors"), false).unwrap();
    }
    // A context is refused beside another base than the one it was trained on.
    let mixed = tmp.path().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::copy(other.join("hyperprior-q1.safetensors"), mixed.join("hyperprior-q1.safetensors")).unwrap();
    std::fs::copy(models.join("checkerboard-q1.safetensors"), mixed.join("checkerboard-q1.safetensors")).unwrap();
    std::env::set_var("TESSERA_MODELS", &mixed);
    let mut seed = 9;
    assert!(matches!(
        PhotoCodec::new(Kind::Checkerboard).encode(&photo(16, 16, &mut seed), &EncodeParams::with_quality(1.0)),
        Err(Error::InvalidParam(_))
    ));
    std::env::set_var("TESSERA_MODELS", &models);
    for kind in [Kind::Factorized, Kind::Hyperprior, Kind::Checkerboard] {
        let codec = PhotoCodec::new(kind);
        // The models shipped in the repository's models/ are found too (a q3 may be there).
        assert!(codec.available().contains(&1), "{kind:?}: {:?}", codec.available());
        for image in [
            photo(70, 45, &mut seed),
            photo(1, 1, &mut seed),
            Image::from_u8(5, 3, 1, &[100; 15]).unwrap(),
        ] {
            let bytes =
                pipeline::compress(&codec, &image, &EncodeParams::with_quality(1.0)).unwrap();
            let one = decode_with_threads(&bytes, 1, &codec);
            let two = decode_with_threads(&bytes, 2, &codec);
            assert_eq!(one, two, "{kind:?}: 1 and 2 threads decode differently");
            assert_eq!(
                (one.width(), one.height(), one.channels()),
                (image.width(), image.height(), image.channels())
            );
        }
        // Refined latents code the same image at a lower rate–distortion cost (λ = 0.01 here)
        // into an ordinary file; the option is checked.
        let image = photo(70, 45, &mut seed);
        let cost = |refine: &str| {
            let mut p = EncodeParams::with_quality(1.0);
            p.options.insert("refine".into(), refine.into());
            let bytes = pipeline::compress(&codec, &image, &p).unwrap();
            let c = Container::from_bytes(&bytes).unwrap();
            let psnr = pipeline::psnr_rgb(&image, &pipeline::decode_container(&codec, &c).unwrap());
            let mse = 255.0f64.powi(2) * 10f64.powf(-psnr / 10.0);
            0.01 * mse + (c.payload.len() * 8) as f64 / (70.0 * 45.0)
        };
        let (plain, refined) = (cost("0"), cost("200"));
        // (These untrained models pay ~50 bpp; 200 steps take off 1.8% and 0.5% of the cost.)
        assert!(
            refined < 0.998 * plain,
            "{kind:?}: cost {refined} refined, {plain} not"
        );
        for bad in ["x", "-1", "100000"] {
            let mut p = EncodeParams::with_quality(1.0);
            p.options.insert("refine".into(), bad.into());
            assert!(
                matches!(codec.encode(&image, &p), Err(Error::InvalidParam(_))),
                "{bad}"
            );
        }
        // Missing qualities and unsupported images are clear errors.
        let img = photo(16, 16, &mut seed);
        // The shipped models/ may hold some qualities; pick one that no folder holds.
        let missing = (1..=MAX_QUALITY)
            .find(|q| !codec.available().contains(q))
            .expect("a quality without a model");
        assert!(matches!(
            codec.encode(&img, &EncodeParams::with_quality(f32::from(missing))),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            codec.encode(&img, &EncodeParams::with_quality(50.0)),
            Err(Error::InvalidParam(_))
        ));
        let rgba = Image::new(4, 4, 4, 8, vec![9; 64]).unwrap();
        assert!(matches!(
            codec.encode(&rgba, &EncodeParams::default()),
            Err(Error::Unsupported(_))
        ));
        // A bpp target picks a model whose file fits, or says none does.
        let p = EncodeParams {
            target_bpp: Some(1e-3),
            ..EncodeParams::default()
        };
        assert!(pipeline::compress(&codec, &img, &p).is_err());

        // Corrupt payloads: an error or an image of the declared geometry, never a panic.
        let bytes = pipeline::compress(
            &codec,
            &photo(40, 30, &mut seed),
            &EncodeParams::with_quality(1.0),
        )
        .unwrap();
        let good = Container::from_bytes(&bytes).unwrap();
        for i in 0..300 {
            let mut c = good.clone();
            let n = c.payload.len();
            match i % 3 {
                0 => c.payload.truncate(lcg(&mut seed) as usize % n),
                1 => c.payload[lcg(&mut seed) as usize % n] ^= 1 << (lcg(&mut seed) % 8),
                _ => {
                    c.payload = (0..lcg(&mut seed) % 64)
                        .map(|_| lcg(&mut seed) as u8)
                        .collect()
                }
            }
            let _ = pipeline::decode_container(&codec, &c);
        }
        let mut c = good.clone();
        c.params = vec![1, 9];
        assert!(pipeline::decode_container(&codec, &c).is_err());
    }
    // A file made with other weights is refused.
    let kinds = [Kind::Hyperprior, Kind::Checkerboard];
    let files: Vec<Vec<u8>> = kinds
        .iter()
        .map(|&k| pipeline::compress(&PhotoCodec::new(k), &photo(32, 32, &mut seed), &EncodeParams::with_quality(1.0)).unwrap())
        .collect();
    std::env::set_var("TESSERA_MODELS", &other);
    for (k, bytes) in kinds.iter().zip(&files) {
        let c = Container::from_bytes(bytes).unwrap();
        assert!(matches!(
            pipeline::decode_container(&PhotoCodec::new(*k), &c),
            Err(Error::ModelMismatch { .. })
        ));
    }
}

/// SHA-256 of an image's samples (little-endian u16), as hex.
fn sample_hash(img: &Image) -> String {
    let bytes: Vec<u8> = img.samples().iter().flat_map(|v| v.to_le_bytes()).collect();
    tessera_core::hex(&Sha256::digest(bytes))
}

/// The committed golden files decode to the committed pixels on every machine: a hyperprior
/// file, and a checkerboard file whose context model was trained on that hyperprior.
#[test]
fn golden_bitstreams_decode_identically() {
    // The checkerboard model finds its base through TESSERA_MODELS, which other tests set too.
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    std::env::set_var("TESSERA_MODELS", &dir);
    for kind in ["hyperprior", "checkerboard"] {
        let bytes = std::fs::read(dir.join(format!("{kind}.tsr"))).unwrap();
        let want = std::fs::read_to_string(dir.join(format!("{kind}.sha256"))).unwrap();
        let c = Container::from_bytes(&bytes).unwrap();
        let file = golden_model(&dir, kind);
        assert_eq!(c.header.model.as_ref(), Some(&file.tag));
        let img = tessera_neural::photo::codec::decode_with(&file, &c.header, &c.params, &c.payload)
            .unwrap();
        assert_eq!(sample_hash(&img), want.trim(), "{kind}");
    }
}

/// The golden model of `kind` (quality 1), loaded as the codec loads it.
fn golden_model(dir: &Path, kind: &str) -> tessera_neural::photo::weights::ModelFile {
    let name = format!("{kind}-q1");
    let model = std::fs::read(dir.join(format!("{name}.safetensors"))).unwrap();
    tessera_neural::photo::weights::load(&name, &model, &tessera_neural::photo::codec::device())
        .unwrap()
}

/// Writes golden file `kind.tsr` of the golden model of `kind` and the hash of its pixels.
fn write_golden(dir: &Path, kind: &str) {
    let file = golden_model(dir, kind);
    let image = photo(48, 40, &mut 11);
    let enc = tessera_neural::photo::codec::encode_with(&file, &image, 1, 0).unwrap();
    let header = tessera_core::Header::for_image(kind, &image, enc.model.clone());
    let c = Container {
        header,
        params: enc.params,
        payload: enc.payload,
    };
    std::fs::write(dir.join(format!("{kind}.tsr")), c.to_bytes().unwrap()).unwrap();
    let img =
        tessera_neural::photo::codec::decode_with(&file, &c.header, &c.params, &c.payload).unwrap();
    std::fs::write(dir.join(format!("{kind}.sha256")), sample_hash(&img) + "\n").unwrap();
}

/// Writes the golden hyperprior model, file and pixel hash (run by hand when the format
/// changes: `cargo test -p tessera-neural --release --test photo -- --ignored make_golden`;
/// the checkerboard golden files depend on this model, so remake them too).
#[test]
#[ignore]
fn make_golden_hyperprior() {
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let photos = photo_folder(tmp.path());
    let run = tmp.path().join("run");
    train::run(config("hyperprior"), &plan(run.clone(), &photos, 3)).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    train::export(&run, &dir.join("hyperprior-q1.safetensors"), true).unwrap();
    write_golden(&dir, "hyperprior");
}

/// Writes the golden checkerboard model (a context trained on the golden hyperprior), file and
/// pixel hash: `... -- --ignored make_golden_checkerboard`.
#[test]
#[ignore]
fn make_golden_checkerboard() {
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let photos = photo_folder(tmp.path());
    let run = tmp.path().join("run");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    context_train::run(context_config(dir.join("hyperprior-q1.safetensors")), &plan(run.clone(), &photos, 3)).unwrap();
    context_train::export(&run, &dir.join("checkerboard-q1.safetensors"), true).unwrap();
    // The card names this run's temporary folder: the test needs none.
    std::fs::remove_file(dir.join("checkerboard-q1.md")).unwrap();
    std::env::set_var("TESSERA_MODELS", &dir);
    write_golden(&dir, "checkerboard");
}
