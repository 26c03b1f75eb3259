//! An adaptive order-k byte model: context mixing of orders 0..=k and a match model.
//!
//! Bytes are coded as 8 binary decisions, most significant bit first. For each decision every
//! order-n model (n = 0, 1, 2, 3, 4, 6, up to the chosen order) looks up an adaptive
//! probability under the hash of the previous n bytes and the bits of the current byte seen so
//! far; a match model predicts the bit that followed the last occurrence of the recent context.
//! A logistic mixer (a single neuron on the stretched probabilities, its weights chosen by the
//! partial byte and trained online) combines them, and the range coder codes the bit with the
//! result. Everything is integer arithmetic: encoder and decoder compute identical
//! probabilities on every machine.

use crate::mixing::{squash, stretch, Counter};
use crate::range::{RangeDecoder, RangeEncoder};

/// Orders the model can use; `ContextModel::new(k)` uses those up to k.
const ORDERS: [usize; 6] = [0, 1, 2, 3, 4, 6];
const MATCH_MIN: usize = 6;
const COUNT_LIMIT: u32 = 255;

/// The order-k context-mixing byte model.
pub struct ContextModel {
    orders: Vec<usize>,
    tables: Vec<Vec<Counter>>,
    masks: Vec<u32>,
    /// Hash of the last n bytes, per order, fixed for the current byte.
    hashes: Vec<u32>,
    /// Table slot per order for the current bit.
    slots: Vec<usize>,
    history: Vec<u8>,
    c0: u32,
    bit_pos: u32,
    match_table: Vec<u32>,
    match_ptr: usize,
    match_len: usize,
    match_counters: [Counter; 64],
    match_slot: usize,
    weights: Vec<i32>,
    inputs: Vec<i32>,
    p12: i32,
}

impl std::fmt::Debug for ContextModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContextModel(orders {:?})", self.orders)
    }
}

impl ContextModel {
    /// A model mixing the orders up to `max_order` (0..=6) with hash tables of `2^table_bits`
    /// entries per order (`table_bits` 10..=24; 22 suits inputs of megabytes).
    pub fn new(max_order: usize, table_bits: u32) -> Self {
        let bits = table_bits.clamp(10, 24);
        let orders: Vec<usize> = ORDERS.iter().copied().filter(|&o| o <= max_order).collect();
        let tables = orders
            .iter()
            .map(|&o| {
                let b = match o {
                    0 => 8,
                    1 => 16.min(bits),
                    _ => bits,
                };
                vec![Counter::NEW; 1 << b]
            })
            .collect::<Vec<_>>();
        let masks = tables.iter().map(|t| (t.len() - 1) as u32).collect();
        let n_inputs = orders.len() + 2; // the orders, the match model, a bias
        let mut m = ContextModel {
            hashes: vec![0; orders.len()],
            slots: vec![0; orders.len()],
            orders,
            tables,
            masks,
            history: Vec::new(),
            c0: 1,
            bit_pos: 0,
            match_table: vec![0; 1 << (bits - 2).clamp(10, 20)],
            match_ptr: 0,
            match_len: 0,
            match_counters: [Counter::NEW; 64],
            match_slot: 0,
            weights: vec![(1 << 16) / n_inputs as i32; 256 * n_inputs],
            inputs: vec![0; n_inputs],
            p12: 2048,
        };
        m.predict();
        m
    }

    /// P(next bit = 1) in 1/65536.
    #[inline]
    fn p16(&self) -> u32 {
        (self.p12 as u32 * 16 + 8).clamp(1, 65_535)
    }

    fn predict(&mut self) {
        let c0 = self.c0;
        for (i, &o) in self.orders.iter().enumerate() {
            let slot = if o == 0 {
                c0 as usize
            } else if o == 1 {
                ((self.hashes[i] << 8 | c0) & self.masks[i]) as usize
            } else {
                (self.hashes[i].wrapping_add(c0.wrapping_mul(0x2F0F_5A1B)).rotate_left(7) & self.masks[i]) as usize
            };
            self.slots[i] = slot;
            self.inputs[i] = stretch(self.tables[i][slot].p12());
        }
        // Match model: the bit the last occurrence of this context continued with.
        let n = self.orders.len();
        self.inputs[n] = 0;
        self.match_slot = usize::MAX;
        if self.match_len > 0 {
            let expected = u32::from(self.history[self.match_ptr]) | 256;
            if expected >> (8 - self.bit_pos) == c0 {
                let bit = (expected >> (7 - self.bit_pos)) & 1;
                self.match_slot = (self.match_len.min(31) << 1) | bit as usize;
                self.inputs[n] = stretch(self.match_counters[self.match_slot].p12());
            }
        }
        self.inputs[n + 1] = 256;
        let set = c0 as usize * self.inputs.len();
        let dot: i64 = self.inputs.iter().zip(&self.weights[set..]).map(|(&x, &w)| i64::from(x) * i64::from(w)).sum();
        self.p12 = squash((dot >> 16) as i32).clamp(1, 4095);
    }

    fn update(&mut self, bit: bool) {
        // Train the mixer on its error, then the counters.
        let err = ((i32::from(bit) << 12) - self.p12) * 6;
        let set = self.c0 as usize * self.inputs.len();
        for (w, &x) in self.weights[set..set + self.inputs.len()].iter_mut().zip(&self.inputs) {
            *w += (x * err) >> 10;
        }
        for (i, &slot) in self.slots.iter().enumerate() {
            self.tables[i][slot].update(bit, COUNT_LIMIT);
        }
        if self.match_slot != usize::MAX {
            self.match_counters[self.match_slot].update(bit, COUNT_LIMIT);
        }
        self.c0 = (self.c0 << 1) | u32::from(bit);
        self.bit_pos += 1;
        if self.bit_pos == 8 {
            self.end_byte((self.c0 & 255) as u8);
        }
        self.predict();
    }

    fn end_byte(&mut self, byte: u8) {
        self.history.push(byte);
        self.c0 = 1;
        self.bit_pos = 0;
        let h = &self.history;
        for (i, &o) in self.orders.iter().enumerate() {
            let mut x = (o as u32).wrapping_mul(0x9E37_79B9);
            for &b in h.iter().rev().take(o) {
                x = (x ^ u32::from(b)).wrapping_mul(0x0100_0193).rotate_left(5);
            }
            self.hashes[i] = x;
        }
        // Extend or look up a match for the last MATCH_MIN bytes.
        if self.match_len > 0 && self.history[self.match_ptr] == byte {
            self.match_len += 1;
            self.match_ptr += 1;
        } else {
            self.match_len = 0;
        }
        if h.len() >= MATCH_MIN {
            let mut x = 0u32;
            for &b in &h[h.len() - MATCH_MIN..] {
                x = (x ^ u32::from(b)).wrapping_mul(0x2C9E_2C6B).rotate_left(9);
            }
            let slot = (x as usize) & (self.match_table.len() - 1);
            if self.match_len == 0 {
                let ptr = self.match_table[slot] as usize;
                if ptr > 0 && ptr < h.len() {
                    // Verify the candidate and measure how far back it agrees.
                    let mut len = 0;
                    while len < 32 && len < ptr && h[ptr - 1 - len] == h[h.len() - 1 - len] {
                        len += 1;
                    }
                    if len >= MATCH_MIN {
                        self.match_len = len;
                        self.match_ptr = ptr;
                    }
                }
            }
            self.match_table[slot] = h.len() as u32;
        }
    }

    /// Codes one byte.
    pub fn encode(&mut self, enc: &mut RangeEncoder, byte: u8) {
        for i in (0..8).rev() {
            let bit = (byte >> i) & 1 == 1;
            enc.encode_bit_p(self.p16(), bit);
            self.update(bit);
        }
    }

    /// Decodes one byte.
    pub fn decode(&mut self, dec: &mut RangeDecoder) -> u8 {
        for _ in 0..8 {
            let bit = dec.decode_bit_p(self.p16());
            self.update(bit);
        }
        *self.history.last().expect("a byte was completed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_orders_compress_text_better_and_round_trip() {
        let text: Vec<u8> = include_str!("mod.rs").bytes().cycle().take(40_000).collect();
        let mut sizes = Vec::new();
        for order in [0, 2, 6] {
            let mut m = ContextModel::new(order, 16);
            let mut enc = RangeEncoder::new();
            for &b in &text {
                m.encode(&mut enc, b);
            }
            let bytes = enc.finish();
            let mut m = ContextModel::new(order, 16);
            let mut dec = RangeDecoder::new(&bytes);
            for &b in &text {
                assert_eq!(m.decode(&mut dec), b);
            }
            sizes.push(bytes.len());
        }
        assert!(sizes[0] > sizes[1] && sizes[1] > sizes[2], "{sizes:?}");
        // The text repeats: the match model must make the repeats nearly free.
        assert!(sizes[2] < 4_000, "{sizes:?}");
    }
}
