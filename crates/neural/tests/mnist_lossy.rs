//! The lossy digit codec `mnist-ae`: training resumes exactly, sets and single digits go
//! through the container and decode to exactly what the encoder's own reconstruction is,
//! other weights and corrupt payloads are refused with an error (never a panic).

use std::path::{Path, PathBuf};

use tessera_core::{Container, Header, Image};
use tessera_neural::mnist::autoencoder::codec::{
    decode_with, encode_with, latents, load_bytes, synthesise, Loaded,
};
use tessera_neural::mnist::autoencoder::model::Shape;
use tessera_neural::mnist::autoencoder::train::{self, Plan, RunConfig};
use tessera_neural::mnist::data::{embedded_test_set, Digits, PIXELS};

/// Held by every test that trains: burn's CPU kernels share one thread pool, and two trainings
/// in one process at once may split (and so sum) a reduction differently, which would make the
/// exact-resume comparison depend on the other test's timing.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn training() -> std::sync::MutexGuard<'static, ()> {
    TRAINING.lock().unwrap_or_else(|e| e.into_inner())
}

/// A training folder of 200 digits from the embedded set.
fn data_folder(dir: &Path) -> PathBuf {
    let folder = dir.join("mnist");
    std::fs::create_dir_all(&folder).unwrap();
    let digits = embedded_test_set().unwrap().take(200);
    let idx = tessera_core::io::write_idx(&digits.to_image().unwrap()).unwrap();
    std::fs::write(folder.join("train-images-idx3-ubyte"), idx).unwrap();
    folder
}

fn config(plain: bool) -> RunConfig {
    RunConfig {
        shape: Shape { n: 6, m: 3 },
        lambda: 0.01,
        plain,
        l2: if plain { 0.01 } else { 0.0 },
        batch: 4,
        lr: 1e-3,
        seed: 5,
    }
}

fn plan(dir: PathBuf, data: &Path, steps: u64) -> Plan {
    Plan { dir, data: data.to_path_buf(), steps, decay_from: Some(3), max_seconds: None, checkpoint_every: 1e9, progress: false }
}

fn header(digits: usize, model: &Loaded) -> Header {
    Header {
        codec: "mnist-ae".into(),
        width: 28,
        height: 28,
        frames: digits as u32,
        channels: 1,
        bit_depth: 8,
        model: Some(model.tag.clone()),
    }
}

/// A tiny model trained a few steps and exported as a model file.
fn tiny_model(tmp: &Path, plain: bool) -> (Loaded, Vec<u8>) {
    let data = data_folder(tmp);
    let run = tmp.join(if plain { "plain" } else { "rd" });
    train::run(config(plain), &plan(run.clone(), &data, 6)).unwrap();
    let name = if plain { "mnist-ae-plain" } else { "mnist-ae-q1" };
    let out = tmp.join(format!("{name}.safetensors"));
    let test = embedded_test_set().unwrap().take(10);
    let (meta, measured) = train::export(&run, &out, true, &data, &test).unwrap();
    assert_eq!((meta.step, meta.plain, meta.tables.len()), (6, plain, 3));
    assert!(measured.bpp > 0.0 && measured.psnr.is_finite());
    assert!(std::fs::read_to_string(out.with_extension("md")).unwrap().contains("## Results"));
    let bytes = std::fs::read(&out).unwrap();
    (load_bytes(name, &bytes).unwrap(), bytes)
}

/// What the encoder's side reconstructs: its latents rounded around the medians, synthesised.
fn expected(model: &Loaded, digits: &Digits) -> Vec<u8> {
    let m = model.meta.tables.len();
    let y: Vec<f32> = latents(&model.model, digits)
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let med = model.meta.tables[(i / 49) % m].median;
            (v - med).round() + med
        })
        .collect();
    synthesise(&model.model, &y, m).pixels
}

/// Through the container's bytes and back.
fn round_trip(model: &Loaded, digits: &Digits) -> (usize, Image) {
    let e = encode_with(model, digits, 1).unwrap();
    let bytes = Container { header: header(digits.len(), model), params: e.params, payload: e.payload }
        .to_bytes()
        .unwrap();
    let c = Container::from_bytes(&bytes).unwrap();
    (bytes.len(), decode_with(model, &c.header, &c.params, &c.payload).unwrap())
}

#[test]
fn training_resumes_exactly() {
    let _serial = training();
    let tmp = tempfile::tempdir().unwrap();
    let data = data_folder(tmp.path());
    for plain in [false, true] {
        let (straight, split) = (tmp.path().join(format!("s{plain}")), tmp.path().join(format!("p{plain}")));
        // One thread: rayon splits the backend's sums by work stealing, so with several
        // threads the float sums may round differently from run to run.
        let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let run = |dir: &PathBuf, steps| one_thread.install(|| train::run(config(plain), &plan(dir.clone(), &data, steps)));
        run(&straight, 5).unwrap();
        run(&split, 2).unwrap();
        assert_eq!(run(&split, 5).unwrap().step, 5);
        let (a, _, _) = train::export_bytes(&straight).unwrap();
        let (b, _, _) = train::export_bytes(&split).unwrap();
        let tensors = |v: &[u8]| v[8 + u64::from_le_bytes(v[..8].try_into().unwrap()) as usize..].to_vec();
        assert!(tensors(&a) == tensors(&b), "a resumed run's weights differ from a straight one's");
        let curve = std::fs::read_to_string(split.join("train.csv")).unwrap();
        assert!(curve.starts_with("step,loss,bpp,psnr,seconds"));
        // Another run's settings are refused rather than mixed into the checkpoint.
        let mut other = config(plain);
        other.lambda = 0.02;
        assert!(train::run(other, &plan(split, &data, 6)).is_err());
    }
}

#[test]
fn sets_and_single_digits_round_trip_and_corruption_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let set = embedded_test_set().unwrap();
    for plain in [false, true] {
        let (model, bytes) = {
            let _serial = training();
            tiny_model(tmp.path(), plain)
        };

        // A set of 600 digits (more than one transform batch) and a single digit.
        let digits = set.take(600);
        let (len, back) = round_trip(&model, &digits);
        assert_eq!((back.width(), back.height(), back.frames()), (28, 28, 600));
        assert_eq!(Digits::from_image(&back).unwrap().pixels, expected(&model, &digits));
        assert!(len < digits.pixels.len(), "lossy codec larger than the raw pixels: {len}");
        let one = Digits { pixels: set.digit(7).to_vec(), labels: None };
        let (_, back) = round_trip(&model, &one);
        assert_eq!(back.frames(), 1);
        assert_eq!(Digits::from_image(&back).unwrap().pixels, expected(&model, &one));
        // Made digits: blank, full, noise.
        let mut seed = 11u64;
        let noise: Vec<u8> = (0..PIXELS)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (seed >> 56) as u8
            })
            .collect();
        let made = Digits { pixels: [vec![0u8; PIXELS], vec![255u8; PIXELS], noise].concat(), labels: None };
        assert_eq!(Digits::from_image(&round_trip(&model, &made).1).unwrap().pixels, expected(&model, &made));

        // Corrupt and truncated payloads: an error or other digits, never a panic.
        let digits = set.take(20);
        let e = encode_with(&model, &digits, 1).unwrap();
        let h = header(20, &model);
        for i in 0..e.payload.len().min(150) {
            let mut p = e.payload.clone();
            p[i] ^= 0xa5;
            let _ = decode_with(&model, &h, &e.params, &p);
        }
        for cut in [0, 1, e.payload.len() / 2, e.payload.len() - 1] {
            let _ = decode_with(&model, &h, &e.params, &e.payload[..cut]);
        }
        // Escapes decoded from garbage stay bounded.
        let _ = decode_with(&model, &h, &e.params, &vec![0xff; 4000]);
        assert!(decode_with(&model, &h, &[9, 1], &e.payload).is_err(), "unknown version");
        assert!(decode_with(&model, &h, &[1, 200], &e.payload).is_err(), "unknown model index");
        assert!(decode_with(&model, &h, &[1], &e.payload).is_err(), "short parameters");
        let mut wrong = h.clone();
        wrong.width = 27;
        assert!(decode_with(&model, &wrong, &e.params, &e.payload).is_err(), "geometry");
        let mut wrong = h.clone();
        wrong.frames = 0;
        assert!(decode_with(&model, &wrong, &e.params, &e.payload).is_err(), "no digits");

        // Other weights are refused: the container names the file's hash.
        let mut other_bytes = bytes.clone();
        let last = other_bytes.len() - 1;
        other_bytes[last] ^= 1;
        let other = load_bytes("mnist-ae-q1", &other_bytes).unwrap();
        assert!(decode_with(&other, &h, &e.params, &e.payload).is_err());
        // A truncated or foreign model file is an error.
        assert!(load_bytes("mnist-ae-q1", &bytes[..bytes.len() / 2]).is_err());
        assert!(load_bytes("mnist-ae-q1", b"not a model").is_err());
    }
    // Images that are not digits are refused.
    assert!(Digits::from_image(&Image::zeroed(29, 28, 1, 8).unwrap()).is_err());
}
