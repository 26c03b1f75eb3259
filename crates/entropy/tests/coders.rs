//! Property tests of every coder and model, edge cases, and corruption.

use proptest::prelude::*;
use tessera_entropy::binary::BitModel;
use tessera_entropy::huffman::HuffmanCode;
use tessera_entropy::bits::{BitReader, BitWriter};
use tessera_entropy::integer::AdaptiveGolomb;
use tessera_entropy::model::{AdaptiveFrequency, ContextModel, Distribution, FrequencyTable, Model, QuantizedCdf};
use tessera_entropy::range::{RangeDecoder, RangeEncoder};
use tessera_entropy::rans::{RansDecoder, RansEncoder, RansModel};
use tessera_entropy::{pack, Error};

/// A model and a message drawn from it (symbols with frequency > 0 only).
fn model_and_message() -> impl Strategy<Value = (Vec<u32>, Vec<usize>)> {
    prop::collection::vec(0u32..1000, 1..300).prop_flat_map(|mut counts| {
        if counts.iter().all(|&c| c == 0) {
            counts[0] = 1;
        }
        let usable: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
        let msg = prop::collection::vec(prop::sample::select(usable), 0..2000);
        (Just(counts), msg)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn range_coder_round_trips_static_models((counts, msg) in model_and_message()) {
        let model = FrequencyTable::from_counts(&counts).unwrap();
        let mut enc = RangeEncoder::new();
        for &s in &msg { enc.encode(&model, s).unwrap(); }
        let bytes = enc.finish();
        let mut dec = RangeDecoder::new(&bytes);
        for &s in &msg { prop_assert_eq!(dec.decode(&model).unwrap(), s); }
        prop_assert!(dec.check_end().is_ok());
    }

    #[test]
    fn range_coder_round_trips_adaptive_models((counts, msg) in model_and_message()) {
        let mut model = AdaptiveFrequency::new(counts.len()).unwrap();
        let mut enc = RangeEncoder::new();
        for &s in &msg { enc.encode(&model, s).unwrap(); model.update(s); }
        let bytes = enc.finish();
        let mut model = AdaptiveFrequency::new(counts.len()).unwrap();
        let mut dec = RangeDecoder::new(&bytes);
        for &s in &msg {
            let got = dec.decode(&model).unwrap();
            prop_assert_eq!(got, s);
            model.update(got);
        }
    }

    #[test]
    fn rans_round_trips((counts, msg) in model_and_message(), bits in 9u32..=16) {
        let wide: Vec<u64> = counts.iter().map(|&c| u64::from(c)).collect();
        prop_assume!(counts.iter().filter(|&&c| c > 0).count() <= 1 << bits);
        let model = RansModel::from_counts(&wide, bits).unwrap();
        let mut enc = RansEncoder::new();
        for &s in &msg { enc.encode(&model, s).unwrap(); }
        let bytes = enc.finish();
        let mut dec = RansDecoder::new(&bytes).unwrap();
        for &s in &msg { prop_assert_eq!(dec.decode(&model).unwrap(), s); }
        prop_assert!(dec.finish().is_ok());
    }

    #[test]
    fn huffman_round_trips((counts, msg) in model_and_message()) {
        let wide: Vec<u64> = counts.iter().map(|&c| u64::from(c)).collect();
        let code = HuffmanCode::from_counts(&wide, 15).unwrap();
        let mut w = BitWriter::new();
        code.write_lengths(&mut w);
        for &s in &msg { code.encode(&mut w, s).unwrap(); }
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        let back = HuffmanCode::read_lengths(&mut r, 1 << 16).unwrap();
        for &s in &msg { prop_assert_eq!(back.decode(&mut r).unwrap(), s); }
    }

    #[test]
    fn binary_contexts_and_integers_round_trip(
        bits in prop::collection::vec((any::<bool>(), 0usize..8), 0..3000),
        ints in prop::collection::vec(any::<i32>(), 0..200),
    ) {
        let mut ctx = [BitModel::new(); 8];
        let mut ints_model = AdaptiveGolomb::new();
        let mut enc = RangeEncoder::new();
        for &(b, c) in &bits { enc.encode_bit(&mut ctx[c], b); }
        for &v in &ints { ints_model.encode_signed(&mut enc, v); }
        let bytes = enc.finish();
        let mut ctx = [BitModel::new(); 8];
        let mut ints_model = AdaptiveGolomb::new();
        let mut dec = RangeDecoder::new(&bytes);
        for &(b, c) in &bits { prop_assert_eq!(dec.decode_bit(&mut ctx[c]), b); }
        for &v in &ints { prop_assert_eq!(ints_model.decode_signed(&mut dec).unwrap(), v); }
    }

    #[test]
    fn quantized_cdfs_round_trip(values in prop::collection::vec(-5000i32..5000, 0..500), scale in 0.05f64..300.0, mean in -50.0f64..50.0) {
        let t = QuantizedCdf::new(Distribution::Gaussian { mean, scale }, -64, 64, 16).unwrap();
        let mut enc = RangeEncoder::new();
        for &v in &values { t.encode_value(&mut enc, v).unwrap(); }
        let bytes = enc.finish();
        let mut dec = RangeDecoder::new(&bytes);
        for &v in &values { prop_assert_eq!(t.decode_value(&mut dec).unwrap(), v); }
    }

    #[test]
    fn pack_round_trips(data in prop::collection::vec(any::<u8>(), 0..3000)) {
        prop_assert_eq!(pack::decompress(&pack::compress(&data)).unwrap(), data);
    }
}

#[test]
fn one_symbol_alphabet_costs_nothing() {
    let model = FrequencyTable::from_counts(&[42]).unwrap();
    let mut enc = RangeEncoder::new();
    for _ in 0..100_000 {
        enc.encode(&model, 0).unwrap();
    }
    assert!(enc.finish().len() <= 1);
}

#[test]
fn zero_frequency_symbols_are_a_clear_error() {
    let model = FrequencyTable::from_counts(&[3, 0, 5]).unwrap();
    assert_eq!(RangeEncoder::new().encode(&model, 1), Err(Error::BadSymbol(1)));
    assert_eq!(RangeEncoder::new().encode(&model, 7), Err(Error::BadSymbol(7)));
}

#[test]
fn probabilities_near_zero_and_one() {
    let model = FrequencyTable::from_counts(&[1, (1 << 24) - 2, 1]).unwrap();
    let msg: Vec<usize> = (0..20_000).map(|i| if i % 5000 == 17 { 2 } else if i % 7919 == 3 { 0 } else { 1 }).collect();
    let mut enc = RangeEncoder::new();
    for &s in &msg {
        enc.encode(&model, s).unwrap();
    }
    let bytes = enc.finish();
    let mut dec = RangeDecoder::new(&bytes);
    for &s in &msg {
        assert_eq!(dec.decode(&model).unwrap(), s);
    }
    // Bits with extreme adaptive probabilities.
    let mut m = BitModel::new();
    let mut enc = RangeEncoder::new();
    for i in 0..50_000 {
        enc.encode_bit(&mut m, i % 10_000 == 0);
    }
    let bytes = enc.finish();
    assert!(bytes.len() < 300, "{}", bytes.len());
    let mut m = BitModel::new();
    let mut dec = RangeDecoder::new(&bytes);
    for i in 0..50_000 {
        assert_eq!(dec.decode_bit(&mut m), i % 10_000 == 0);
    }
}

#[test]
fn a_million_symbols_stay_within_a_hundredth_of_a_percent_of_the_ideal() {
    let counts: Vec<u32> = (0..256).map(|i| 1 + (i * 37 % 101) * (i % 7 + 1)).collect();
    let model = FrequencyTable::from_counts(&counts).unwrap();
    let total: u32 = counts.iter().sum();
    let mut seed = 5u64;
    let mut enc = RangeEncoder::new();
    let mut ideal = 0f64;
    let mut msg = Vec::with_capacity(1_000_000);
    for _ in 0..1_000_000 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let (s, _, f) = model.find((seed >> 33) as u32 % total);
        ideal -= (f64::from(f) / f64::from(total)).log2();
        enc.encode(&model, s).unwrap();
        msg.push(s);
    }
    let bytes = enc.finish();
    let bits = bytes.len() as f64 * 8.0;
    assert!(bits <= ideal * 1.0001, "{bits} bits vs ideal {ideal}");
    let mut dec = RangeDecoder::new(&bytes);
    assert!(msg.iter().all(|&s| dec.decode(&model).unwrap() == s));
}

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

/// Truncations, bit flips and random bytes, thousands each.
fn mutations(good: &[u8], seed: &mut u64, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| match i % 3 {
            0 => good[..lcg(seed) as usize % (good.len() + 1)].to_vec(),
            1 => {
                let mut b = good.to_vec();
                if !b.is_empty() {
                    let k = lcg(seed) as usize % b.len();
                    b[k] ^= 1 << (lcg(seed) % 8);
                }
                b
            }
            _ => (0..lcg(seed) % 64).map(|_| lcg(seed) as u8).collect(),
        })
        .collect()
}

#[test]
fn corrupt_streams_give_errors_never_panics() {
    let mut seed = 11;
    // rANS: the end-of-stream check must catch corruption.
    let model = RansModel::from_counts(&[5, 1, 9, 30], 12).unwrap();
    let mut enc = RansEncoder::new();
    for i in 0..500 {
        enc.encode(&model, [0, 1, 2, 3][i % 4]).unwrap();
    }
    let good = enc.finish();
    let mut caught = 0;
    for bad in mutations(&good, &mut seed, 3000) {
        let Ok(mut dec) = RansDecoder::new(&bad) else { caught += 1; continue };
        let ok = (0..500).all(|_| dec.decode(&model).is_ok()) && dec.finish().is_ok();
        caught += usize::from(!ok || bad == good);
    }
    assert!(caught >= 2990, "rANS accepted {} corrupt streams", 3000 - caught);
    // Huffman headers and codes.
    let code = HuffmanCode::from_counts(&[3, 1, 4, 1, 5, 9, 2, 6], 15).unwrap();
    let mut w = BitWriter::new();
    code.write_lengths(&mut w);
    for s in 0..8 {
        code.encode(&mut w, s).unwrap();
    }
    let good = w.finish();
    for bad in mutations(&good, &mut seed, 3000) {
        let mut r = BitReader::new(&bad);
        if let Ok(c) = HuffmanCode::read_lengths(&mut r, 1 << 16) {
            for _ in 0..8 {
                let _ = c.decode(&mut r);
            }
        }
    }
    // Pack: a mutation is an error or, when it only touched bytes the decoder never needed
    // (the tail of the final range-coder bytes), the original itself; never a wrong output.
    let data: Vec<u8> = (0..2000u32).map(|i| (i * i % 251) as u8).collect();
    let good = pack::compress(&data);
    for bad in mutations(&good, &mut seed, 3000) {
        if let Ok(out) = pack::decompress(&bad) {
            assert_eq!(out, data);
        }
    }
    // Range decoding of garbage with every model: no panic, no hang.
    let freq = FrequencyTable::from_counts(&[1, 2, 3]).unwrap();
    let cdf = QuantizedCdf::new(Distribution::Laplace { mean: 0.0, scale: 3.0 }, -20, 20, 16).unwrap();
    for bad in mutations(&[0x55; 40], &mut seed, 3000) {
        let mut dec = RangeDecoder::new(&bad);
        let mut ctx = ContextModel::new(2, 12);
        let mut ad = AdaptiveFrequency::new(10).unwrap();
        for _ in 0..20 {
            let _ = dec.decode(&freq);
            let _ = cdf.decode_value(&mut dec);
            let s = dec.decode(&ad).unwrap();
            ad.update(s);
            ctx.decode(&mut dec);
        }
    }
}
