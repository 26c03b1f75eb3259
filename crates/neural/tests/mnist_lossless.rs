//! The learned lossless digit coder: training resumes exactly, sets and single digits round
//! trip bit for bit whatever the thread count, other weights and corrupt payloads are refused,
//! and the committed golden stream is reproduced byte for byte on every machine.

use std::path::{Path, PathBuf};

use tessera_core::{Container, Header, Image};
use tessera_neural::mnist::data::{embedded_test_set, Digits, PIXELS};
use tessera_core::EncodeParams;
use tessera_neural::mnist::lossless::binned::{self, MnistPixel};
use tessera_neural::mnist::lossless::codec::{decode_with, encode_with, load_bytes, Choice, Loaded};
use tessera_neural::mnist::lossless::model::Shape;
use tessera_neural::mnist::lossless::train::{self, Plan, RunConfig};

/// A training folder of 1,100 digits (100 to train on, 1,000 held out) from the embedded set.
fn data_folder(dir: &Path) -> PathBuf {
    let folder = dir.join("mnist");
    std::fs::create_dir_all(&folder).unwrap();
    let digits = embedded_test_set().unwrap().take(1100);
    let idx = tessera_core::io::write_idx(&digits.to_image().unwrap()).unwrap();
    std::fs::write(folder.join("train-images-idx3-ubyte"), idx).unwrap();
    folder
}

fn config() -> RunConfig {
    RunConfig { shape: Shape { radius: 2, hidden: 16, layers: 1 }, batch: 4, lr: 1e-3, seed: 3 }
}

fn plan(dir: PathBuf, data: &Path, steps: u64) -> Plan {
    Plan {
        dir,
        data: data.to_path_buf(),
        steps,
        decay_from: None,
        max_seconds: None,
        checkpoint_every: 1e9,
        validate_every: 2,
        progress: false,
    }
}

fn header(digits: usize, model: &Loaded) -> Header {
    Header {
        codec: "mnist-lossless".into(),
        width: 28,
        height: 28,
        frames: digits as u32,
        channels: 1,
        bit_depth: 8,
        model: Some(model.tag.clone()),
    }
}

/// A trained tiny model, exported and loaded.
fn tiny_model(tmp: &Path, test: &Digits) -> (Loaded, Vec<u8>) {
    let data = data_folder(tmp);
    let run = tmp.join("run");
    train::run(config(), &plan(run.clone(), &data, 6)).unwrap();
    let out = tmp.join("mnist-lossless.safetensors");
    train::export(&run, &out, true, &data, test).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    (load_bytes("mnist-lossless", &bytes).unwrap(), bytes)
}

fn round_trip(model: &Loaded, digits: &Digits, threads: usize) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let e = encode_with(model, digits).unwrap();
        let back = decode_with(model, &header(digits.len(), model), &e.params, &e.payload).unwrap();
        assert_eq!(Digits::from_image(&back).unwrap().pixels, digits.pixels, "not lossless");
        e.payload
    })
}

#[test]
fn training_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_folder(tmp.path());
    let (straight, split) = (tmp.path().join("straight"), tmp.path().join("split"));
    // One thread: rayon splits the backend's sums by work stealing, so with several threads
    // (and another test busy beside this one) the float sums may round differently.
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let run = |dir: &PathBuf, steps| one_thread.install(|| train::run(config(), &plan(dir.clone(), &data, steps)));
    run(&straight, 4).unwrap();
    run(&split, 2).unwrap();
    assert_eq!(run(&split, 4).unwrap().step, 4);
    let test = embedded_test_set().unwrap().take(5);
    let (a, b) = (tmp.path().join("a.safetensors"), tmp.path().join("b.safetensors"));
    train::export(&straight, &a, false, &data, &test).unwrap();
    train::export(&split, &b, false, &data, &test).unwrap();
    let tensors = |p: &Path| {
        let v = std::fs::read(p).unwrap();
        v[8 + u64::from_le_bytes(v[..8].try_into().unwrap()) as usize..].to_vec()
    };
    assert!(tensors(&a) == tensors(&b), "a resumed run's weights differ from a straight one's");
    let valid = std::fs::read_to_string(split.join("valid.csv")).unwrap();
    assert_eq!(valid.lines().count(), 3, "validation curve: {valid}");
    // Another run's settings are refused rather than mixed into the checkpoint.
    let mut other = config();
    other.shape.hidden = 24;
    assert!(train::run(other, &plan(split, &data, 6)).is_err());
}

#[test]
fn digits_round_trip_bit_exactly_and_corruption_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let set = embedded_test_set().unwrap();
    let (model, bytes) = tiny_model(tmp.path(), &set.take(20));

    // A set larger than one chunk, coded the same on one and on two threads.
    let digits = set.take(300);
    assert_eq!(round_trip(&model, &digits, 1), round_trip(&model, &digits, 2));
    // Made digits: blank, full, noise, a single one.
    let mut seed = 9u64;
    let noise: Vec<u8> = (0..PIXELS)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 56) as u8
        })
        .collect();
    let made = [vec![0u8; PIXELS], vec![255u8; PIXELS], noise].concat();
    round_trip(&model, &Digits { pixels: made, labels: None }, 2);
    round_trip(&model, &set.take(1), 1);

    // Corrupt payloads: an error or other digits, never a panic.
    let digits = set.take(30);
    let e = encode_with(&model, &digits).unwrap();
    let h = header(30, &model);
    for i in 0..e.payload.len().min(200) {
        let mut p = e.payload.clone();
        p[i] ^= 0x5a;
        let _ = decode_with(&model, &h, &e.params, &p);
    }
    for cut in [0, 1, e.payload.len() / 2, e.payload.len() - 1] {
        let _ = decode_with(&model, &h, &e.params, &e.payload[..cut]);
    }
    assert!(decode_with(&model, &h, &[9, 250, 0], &e.payload).is_err(), "unknown version");
    assert!(decode_with(&model, &h, &[1, 0, 0], &e.payload).is_err(), "zero chunk");
    assert!(decode_with(&model, &header(31, &model), &e.params, &e.payload).is_err(), "chunk count");
    let mut wrong = h.clone();
    wrong.width = 27;
    assert!(decode_with(&model, &wrong, &e.params, &e.payload).is_err(), "geometry");

    // Other weights are refused: the container names the file's hash.
    let mut other_bytes = bytes.clone();
    let last = other_bytes.len() - 1;
    other_bytes[last] ^= 1;
    let other = load_bytes("mnist-lossless", &other_bytes).unwrap();
    assert!(decode_with(&other, &h, &e.params, &e.payload).is_err());
    // A truncated or foreign model file is an error.
    assert!(load_bytes("mnist-lossless", &bytes[..bytes.len() / 2]).is_err());
    assert!(load_bytes("mnist-lossless", b"not a model").is_err());

    // Images that are not digits are refused by the encoder.
    let wide = Image::zeroed(29, 28, 1, 8).unwrap();
    assert!(Digits::from_image(&wide).is_err());
}

/// `mnist-pixel`: each bound holds, coarser bins cost fewer bits, the rate–distortion choice
/// trades error for bits, thread count changes nothing, and bad parameters are refused.
#[test]
fn binned_coding_keeps_its_bound_and_trades_error_for_bits() {
    let tmp = tempfile::tempdir().unwrap();
    let set = embedded_test_set().unwrap();
    let (model, _) = tiny_model(tmp.path(), &set.take(5));
    let digits = set.take(260);
    let mut h = header(digits.len(), &model);
    h.codec = "mnist-pixel".into();
    let code = |choice: Choice, threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let e = binned::encode_with(&model, &digits, choice).unwrap();
            let back = binned::decode_with(&model, &h, &e.params, &e.payload).unwrap();
            (e, Digits::from_image(&back).unwrap().pixels)
        })
    };
    let errors = |back: &[u8]| -> Vec<u8> { digits.pixels.iter().zip(back).map(|(&a, &b)| a.abs_diff(b)).collect() };
    let mut last = usize::MAX;
    for e in [1, 2, 4, 16] {
        let choice = Choice { width: e + 1, max_error: e, lambda: 0.0 };
        let (enc, back) = code(choice, 2);
        assert!(errors(&back).iter().all(|&d| usize::from(d) <= e), "error {e}");
        assert!(errors(&back).iter().any(|&d| d > 0), "error {e}: nothing lost");
        assert!(enc.payload.len() < last, "error {e}: {} bytes, not fewer than {last}", enc.payload.len());
        last = enc.payload.len();
        assert_eq!(code(choice, 1).0.payload, enc.payload, "error {e}: thread count");
    }
    // The rate–distortion choice: fewer bytes than the bins holding the values, more error.
    let squared = |back: &[u8]| errors(back).iter().map(|&d| u64::from(d) * u64::from(d)).sum::<u64>();
    let (bound, bound_back) = code(Choice { width: 17, max_error: 16, lambda: 0.0 }, 2);
    let (rd, rd_back) = code(Choice { width: 17, max_error: 255, lambda: 2000.0 }, 2);
    assert!(rd.payload.len() < bound.payload.len());
    assert!(squared(&rd_back) > squared(&bound_back));

    // Qualities and options.
    let q = |q: f32| MnistPixel::choice(&EncodeParams::with_quality(q));
    assert_eq!(q(8.0).unwrap().width, 2);
    assert!(q(1.0).unwrap().lambda > 0.0);
    assert!(q(9.0).is_err());
    let mut p = EncodeParams::default();
    p.options.insert("error".into(), "3".into());
    let c = MnistPixel::choice(&p).unwrap();
    assert_eq!((c.width, c.max_error, c.lambda), (4, 3, 0.0));
    p.options.insert("error".into(), "0".into());
    assert!(MnistPixel::choice(&p).is_err());
    assert!(binned::encode_with(&model, &digits, Choice { width: 1, max_error: 0, lambda: 0.0 }).is_err());

    // Bad parameters and corrupt payloads: errors or other digits, never a panic.
    for params in [&[1u8, 250, 0][..], &[1, 250, 0, 1], &[2, 250, 0, 5], &[1, 0, 0, 5]] {
        assert!(binned::decode_with(&model, &h, params, &bound.payload).is_err(), "{params:?}");
    }
    let few = set.take(20);
    let e = binned::encode_with(&model, &few, Choice { width: 5, max_error: 4, lambda: 0.0 }).unwrap();
    let mut h = header(20, &model);
    h.codec = "mnist-pixel".into();
    for i in (0..e.payload.len()).step_by(e.payload.len() / 16 + 1) {
        let mut p = e.payload.clone();
        p[i] ^= 0x21;
        let _ = binned::decode_with(&model, &h, &e.params, &p);
    }
    let _ = binned::decode_with(&model, &h, &e.params, &e.payload[..e.payload.len() / 3]);
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The committed model codes the first 20 test digits to the committed container, byte for
/// byte, and the container decodes back to them: the coder's arithmetic is the same here as
/// where the file was made.
#[test]
fn golden_stream_is_reproduced() {
    let dir = golden_dir();
    let model_bytes = std::fs::read(dir.join("mnist-lossless.safetensors")).unwrap();
    let model = load_bytes("mnist-lossless", &model_bytes).unwrap();
    let want = std::fs::read(dir.join("mnist-lossless.tsr")).unwrap();
    let digits = embedded_test_set().unwrap().take(20);
    let e = encode_with(&model, &digits).unwrap();
    let c = Container { header: header(20, &model), params: e.params, payload: e.payload };
    assert!(c.to_bytes().unwrap() == want, "the coded stream differs from the golden one");
    let back = decode_with(&model, &c.header, &c.params, &c.payload).unwrap();
    assert_eq!(Digits::from_image(&back).unwrap().pixels, digits.pixels);
}

/// Writes the golden model and container (run by hand when the format changes:
/// `cargo test -p tessera-neural --release --test mnist_lossless -- --ignored make_golden`).
#[test]
#[ignore]
fn make_golden() {
    let tmp = tempfile::tempdir().unwrap();
    let digits = embedded_test_set().unwrap().take(20);
    let (model, bytes) = tiny_model(tmp.path(), &digits);
    let dir = golden_dir();
    std::fs::write(dir.join("mnist-lossless.safetensors"), &bytes).unwrap();
    let e = encode_with(&model, &digits).unwrap();
    let c = Container { header: header(20, &model), params: e.params, payload: e.payload };
    std::fs::write(dir.join("mnist-lossless.tsr"), c.to_bytes().unwrap()).unwrap();
}
