//! The recurrent codec end to end on a tiny network trained here for a few steps: progressive
//! files cut after any iteration decode, the container's iteration count is checked, decoding
//! is the same on 1 and 2 threads, corrupt payloads are errors.

use std::path::{Path, PathBuf};

use tessera_core::io::{encode_image, Format};
use tessera_core::{pipeline, Codec, Container, EncodeParams, Error, Image, TruncateTarget};
use tessera_neural::recurrent::codec::{RnnCodec, DEFAULT_VARIANT};
use tessera_neural::recurrent::train::{self, Plan, RunConfig};

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

fn photo(w: u32, h: u32, seed: &mut u64) -> Image {
    let s: Vec<u8> = (0..w * h * 3)
        .map(|i| ((i / 3 % w + i / 3 / w * 2) % 256) as u8 ^ (lcg(seed) % 16) as u8)
        .collect();
    Image::from_u8(w, h, 3, &s).unwrap()
}

fn folder(dir: &Path) -> PathBuf {
    let f = dir.join("photos");
    std::fs::create_dir_all(&f).unwrap();
    let mut seed = 2;
    for i in 0..2 {
        std::fs::write(
            f.join(format!("p{i}.png")),
            encode_image(&photo(48, 40, &mut seed), Format::Png).unwrap(),
        )
        .unwrap();
    }
    f
}

fn config(variant: &str) -> RunConfig {
    RunConfig {
        variant: variant.into(),
        iterations: 2,
        batch: 2,
        patch: 32,
        lr: 1e-3,
        seed: 5,
    }
}

fn plan(dir: PathBuf, photos: &Path, steps: u64) -> Plan {
    Plan {
        dir,
        train: vec![photos.to_path_buf()],
        steps,
        decay_from: None,
        sign_from: None,
        max_seconds: None,
        checkpoint_every: 1e9,
        progress: false,
    }
}

#[test]
fn every_variant_trains_a_step() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = folder(tmp.path());
    for v in tessera_neural::recurrent::model::Variant::all() {
        let state = train::run(
            config(&v.name()),
            &plan(tmp.path().join(v.name()), &photos, 1),
        )
        .unwrap();
        assert_eq!(state.step, 1);
    }
    assert!(train::run(
        config("gru-sideways"),
        &plan(tmp.path().join("x"), &photos, 1)
    )
    .is_err());
}

#[test]
fn a_run_goes_on_to_larger_crops_and_its_card_lists_both() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = folder(tmp.path());
    let run = tmp.path().join("run");
    let small = RunConfig {
        patch: 16,
        ..config(DEFAULT_VARIANT)
    };
    train::run(small.clone(), &plan(run.clone(), &photos, 2)).unwrap();
    let large = RunConfig {
        batch: 1,
        ..config(DEFAULT_VARIANT)
    };
    // The last step binarises with the sign, as coding does.
    let signed = Plan { sign_from: Some(2), ..plan(run.clone(), &photos, 3) };
    let state = train::run(large.clone(), &signed).unwrap();
    assert_eq!(state.sign_from, Some(2));
    assert_eq!((state.step, &state.config), (3, &large));
    assert_eq!(
        state.earlier,
        vec![train::Crops {
            until: 2,
            batch: 2,
            patch: 16
        }]
    );
    // Other settings still belong to the run.
    let other = RunConfig {
        iterations: 3,
        ..large
    };
    assert!(train::run(other, &plan(run.clone(), &photos, 4)).is_err());
    let out = tmp.path().join("models/rnn.safetensors");
    train::export(&run, &out, false).unwrap();
    let card = std::fs::read_to_string(out.with_extension("md")).unwrap();
    assert!(
        card.contains("16×16 in batches of 2 until step 2, then 32×32 in batches of 1"),
        "{card}"
    );
    assert!(card.contains("--batch 2 --patch 16 --lr 0.001 --seed 5 --steps 2 "), "{card}");
    assert!(card.contains("--batch 1 --patch 32 --lr 0.001 --seed 5 --steps 3 --sign-from 2 "), "{card}");
    assert!(card.contains("binarised with their sign from step 2"), "{card}");
}

fn decode_threads(codec: &RnnCodec, c: &Container, threads: usize) -> Image {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| pipeline::decode_container(codec, c))
        .unwrap()
}

#[test]
fn progressive_files_round_trip_and_truncate() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = folder(tmp.path());
    let run = tmp.path().join("run");
    train::run(config(DEFAULT_VARIANT), &plan(run.clone(), &photos, 3)).unwrap();
    let models = tmp.path().join("models");
    train::export(&run, &models.join(format!("rnn-{DEFAULT_VARIANT}.safetensors")), false).unwrap();
    std::env::set_var("TESSERA_MODELS", &models);
    let codec = RnnCodec;
    let mut seed = 3;
    // Wide enough for two tiles.
    let image = photo(280, 24, &mut seed);
    let pixels = 280.0 * 24.0;
    let bytes = pipeline::compress(&codec, &image, &EncodeParams::with_quality(4.0)).unwrap();
    let c = Container::from_bytes(&bytes).unwrap();
    let full = decode_threads(&codec, &c, 1);
    assert_eq!(
        full,
        decode_threads(&codec, &c, 2),
        "1 and 2 threads decode differently"
    );
    assert_eq!((full.width(), full.height(), full.channels()), (280, 24, 3));
    // Every prefix decodes, to what the encoder had after that many iterations; files shrink.
    let mut last = c.payload.len() + 1;
    for k in (1..=4).rev() {
        let (params, payload) = codec
            .truncate(
                &c.header,
                &c.params,
                &c.payload,
                TruncateTarget::Iterations(k),
            )
            .unwrap();
        assert!(payload.len() < last);
        last = payload.len();
        let cut = Container {
            header: c.header.clone(),
            params,
            payload,
        };
        let img = pipeline::decode_container(&codec, &cut).unwrap();
        assert_eq!(img.width(), 280);
    }
    assert!(codec
        .truncate(
            &c.header,
            &c.params,
            &c.payload,
            TruncateTarget::Iterations(5)
        )
        .is_err());
    // A container that claims more iterations than it holds is refused.
    let mut lying = c.clone();
    lying.params[3] = 5;
    assert!(pipeline::decode_container(&codec, &lying).is_err());
    // A bpp target keeps the iterations that fit.
    let p = EncodeParams {
        target_bpp: Some(bytes.len() as f64 * 8.0 / pixels * 2.0),
        ..EncodeParams::default()
    };
    let fitted = pipeline::compress(&codec, &image, &p).unwrap();
    assert!(fitted.len() as f64 * 8.0 / pixels <= p.target_bpp.unwrap());
    // Gray images and bad input.
    let gray = Image::from_u8(17, 5, 1, &[80; 85]).unwrap();
    let g = pipeline::compress(&codec, &gray, &EncodeParams::with_quality(2.0)).unwrap();
    assert_eq!(
        tessera_core::pipeline::decode_container(&codec, &Container::from_bytes(&g).unwrap())
            .unwrap()
            .channels(),
        1
    );
    assert!(matches!(
        codec.encode(&image, &EncodeParams::with_quality(17.0)),
        Err(Error::InvalidParam(_))
    ));
    let mut other = EncodeParams::default();
    other
        .options
        .insert("variant".into(), "lstm-oneshot".into());
    assert!(matches!(
        codec.encode(&image, &other),
        Err(Error::Unsupported(_))
    ));
    // Corrupt payloads: an error or an image, never a panic.
    for i in 0..300 {
        let mut m = c.clone();
        let n = m.payload.len();
        match i % 3 {
            0 => m.payload.truncate(lcg(&mut seed) as usize % n),
            1 => m.payload[lcg(&mut seed) as usize % n] ^= 1 << (lcg(&mut seed) % 8),
            _ => {
                m.payload = (0..lcg(&mut seed) % 40)
                    .map(|_| lcg(&mut seed) as u8)
                    .collect()
            }
        }
        let _ = pipeline::decode_container(&codec, &m);
    }
}
