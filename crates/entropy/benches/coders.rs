//! Throughput and size over the ideal −Σ log2 p of every coder, beside `constriction`'s range
//! coder and ANS coder on the same data and the same fixed-point probabilities.
//!
//! `cargo bench -p tessera-entropy --bench coders` prints a size table first, then criterion's
//! timings (throughput in symbols per second).

use std::hint::black_box;

use constriction::stream::model::DefaultContiguousCategoricalEntropyModel;
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::{Decode, Encode};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tessera_entropy::binary::BitModel;
use tessera_entropy::model::{scale_counts, FrequencyTable, Model};
use tessera_entropy::range::{RangeDecoder, RangeEncoder};
use tessera_entropy::rans::{RansDecoder, RansEncoder, RansModel};

const N: usize = 1_000_000;

/// A workload: fixed-point frequencies summing to 2^24 and a message drawn from them.
struct Workload {
    name: &'static str,
    freqs24: Vec<u32>,
    message: Vec<usize>,
}

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

fn workload(name: &'static str, counts: &[u64]) -> Workload {
    let freqs24 = scale_counts(counts, 1 << 24).unwrap();
    let model = FrequencyTable::from_counts(&freqs24).unwrap();
    let mut seed = 42;
    let message = (0..N).map(|_| model.find((lcg(&mut seed) % (1 << 24)) as u32).0).collect();
    Workload { name, freqs24, message }
}

fn workloads() -> Vec<Workload> {
    // (a) Byte frequencies of real text: this crate's own sources.
    let text = [
        include_str!("../src/range.rs"),
        include_str!("../src/explain.rs"),
        include_str!("../src/huffman.rs"),
        include_str!("../src/model/context.rs"),
    ]
    .concat();
    let mut counts = vec![0u64; 256];
    for b in text.bytes() {
        counts[usize::from(b)] += 1;
    }
    for c in &mut counts {
        *c += 1; // every byte codable
    }
    vec![
        workload("text-256", &counts),
        // (b) Skewed small alphabets.
        workload("skewed-4", &[900, 60, 30, 10]),
        workload("skewed-16", &(0..16).map(|i| 1u64 << (15 - i)).collect::<Vec<_>>()),
    ]
}

fn ideal_bits(w: &Workload) -> f64 {
    let total = f64::from(1u32 << 24);
    w.message.iter().map(|&s| -(f64::from(w.freqs24[s]) / total).log2()).sum()
}

fn constriction_model(w: &Workload) -> DefaultContiguousCategoricalEntropyModel {
    DefaultContiguousCategoricalEntropyModel::from_nonzero_fixed_point_probabilities(w.freqs24.iter().copied(), false).unwrap()
}

fn rans_model(w: &Workload) -> RansModel {
    let counts: Vec<u64> = w.freqs24.iter().map(|&f| u64::from(f)).collect();
    RansModel::from_counts(&counts, 16).unwrap()
}

fn ours_range(w: &Workload, model: &FrequencyTable) -> Vec<u8> {
    let mut enc = RangeEncoder::new();
    for &s in &w.message {
        enc.encode(model, s).unwrap();
    }
    enc.finish()
}

fn ours_rans(w: &Workload, model: &RansModel) -> Vec<u8> {
    let mut enc = RansEncoder::new();
    for &s in &w.message {
        enc.encode(model, s).unwrap();
    }
    enc.finish()
}

fn their_range(w: &Workload, model: &DefaultContiguousCategoricalEntropyModel) -> Vec<u32> {
    let mut enc = DefaultRangeEncoder::new();
    enc.encode_iid_symbols(w.message.iter().copied(), model).unwrap();
    enc.into_compressed().unwrap()
}

fn their_ans(w: &Workload, model: &DefaultContiguousCategoricalEntropyModel) -> Vec<u32> {
    let mut enc = DefaultAnsCoder::new();
    enc.encode_iid_symbols_reverse(w.message.iter().copied(), model).unwrap();
    enc.into_compressed().unwrap()
}

fn print_sizes(ws: &[Workload]) {
    eprintln!("\nsize over the ideal −Σ log2 p, {N} symbols each");
    eprintln!("{:<10} {:>14} {:>12} {:>12} {:>12} {:>12}", "workload", "ideal bytes", "ours range", "ours rANS16", "constr range", "constr ANS");
    for w in ws {
        let ideal = ideal_bits(w) / 8.0;
        let model = FrequencyTable::from_counts(&w.freqs24).unwrap();
        let cm = constriction_model(w);
        let pct = |bytes: usize| format!("{:+.4}%", (bytes as f64 / ideal - 1.0) * 100.0);
        eprintln!(
            "{:<10} {:>14.0} {:>12} {:>12} {:>12} {:>12}",
            w.name,
            ideal,
            pct(ours_range(w, &model).len()),
            pct(ours_rans(w, &rans_model(w)).len()),
            pct(their_range(w, &cm).len() * 4),
            pct(their_ans(w, &cm).len() * 4)
        );
    }
    eprintln!("\nbinary coder, adaptive contexts, {N} bits each (size over the ideal at the true p)");
    for p in [0.001f64, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5] {
        let bits = bernoulli(p);
        let ideal = bits.iter().map(|&b| -(if b { p } else { 1.0 - p }).log2()).sum::<f64>() / 8.0;
        let mut ctx = BitModel::new();
        let mut enc = RangeEncoder::new();
        for &b in &bits {
            enc.encode_bit(&mut ctx, b);
        }
        let n = enc.finish().len();
        eprintln!("p = {p:<6} ideal {ideal:>9.0} bytes, ours {n:>9} ({:+.3}%)", (n as f64 / ideal - 1.0) * 100.0);
    }
    eprintln!();
}

fn bernoulli(p: f64) -> Vec<bool> {
    let mut seed = 7;
    (0..N).map(|_| (lcg(&mut seed) as f64 / f64::from(1u32 << 31)) < p).collect()
}

fn benches(c: &mut Criterion) {
    let ws = workloads();
    print_sizes(&ws);
    for w in &ws {
        let model = FrequencyTable::from_counts(&w.freqs24).unwrap();
        let rm = rans_model(w);
        let cm = constriction_model(w);
        let ours = ours_range(w, &model);
        let ours_r = ours_rans(w, &rm);
        let theirs = their_range(w, &cm);
        let theirs_a = their_ans(w, &cm);
        let mut g = c.benchmark_group(w.name);
        g.throughput(Throughput::Elements(N as u64));
        g.sample_size(10);
        g.bench_function("tessera range encode", |b| b.iter(|| ours_range(black_box(w), &model)));
        g.bench_function("tessera range decode", |b| {
            b.iter(|| {
                let mut dec = RangeDecoder::new(&ours);
                (0..N).map(|_| dec.decode(&model).unwrap()).sum::<usize>()
            })
        });
        g.bench_function("tessera rANS encode", |b| b.iter(|| ours_rans(black_box(w), &rm)));
        g.bench_function("tessera rANS decode", |b| {
            b.iter(|| {
                let mut dec = RansDecoder::new(&ours_r).unwrap();
                (0..N).map(|_| dec.decode(&rm).unwrap()).sum::<usize>()
            })
        });
        g.bench_function("constriction range encode", |b| b.iter(|| their_range(black_box(w), &cm)));
        g.bench_function("constriction range decode", |b| {
            b.iter(|| {
                let mut dec = DefaultRangeDecoder::from_compressed(theirs.clone()).unwrap();
                dec.decode_iid_symbols(N, &cm).map(|s| s.unwrap()).sum::<usize>()
            })
        });
        g.bench_function("constriction ANS encode", |b| b.iter(|| their_ans(black_box(w), &cm)));
        g.bench_function("constriction ANS decode", |b| {
            b.iter(|| {
                let mut dec = DefaultAnsCoder::from_compressed(theirs_a.clone()).unwrap();
                dec.decode_iid_symbols(N, &cm).map(|s| s.unwrap()).sum::<usize>()
            })
        });
        g.finish();
    }
    // The tutorial's decimal coder takes about 9.7 s for 25,600 symbols (ANCHORS.md).
    let text: Vec<u8> = include_str!("../src/range.rs").bytes().cycle().take(25_600).collect();
    let mut g = c.benchmark_group("pack-25600");
    g.throughput(Throughput::Elements(text.len() as u64));
    g.sample_size(10);
    g.bench_function("pack fast", |b| b.iter(|| tessera_entropy::pack::compress_with(black_box(&text), tessera_entropy::pack::Level::Fast)));
    g.bench_function("pack max", |b| b.iter(|| tessera_entropy::pack::compress(black_box(&text))));
    g.finish();
    let bits = bernoulli(0.05);
    let mut g = c.benchmark_group("binary-p0.05");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("tessera adaptive bit encode", |b| {
        b.iter(|| {
            let mut ctx = BitModel::new();
            let mut enc = RangeEncoder::new();
            for &bit in &bits {
                enc.encode_bit(&mut ctx, bit);
            }
            enc.finish()
        })
    });
    g.finish();
}

criterion_group!(coders, benches);
criterion_main!(coders);
