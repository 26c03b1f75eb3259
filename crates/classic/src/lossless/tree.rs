//! Context trees for effort 2 of `lossless`: the encoder grows, for each plane, a binary
//! decision tree over causal properties of a sample (its activity, the signed residuals around
//! it, the local slopes, the prediction) and sends it; each leaf is a context with its own
//! table, so the contexts fit the image instead of following one fixed rule.
//!
//! Every property is a bin in `0..BINS`: magnitudes by their half-octave
//! ([`unsigned_bin`]), signed values by their sign and half-octave ([`signed_bin`]). A node
//! sends a sample right when its property's bin is above the node's threshold.
//!
//! The tree grows greedily: the leaf whose best split saves the most bits is split, until no
//! split saves more than `SPLIT_BITS` or the tree has `MAX_LEAVES` leaves. A leaf's cost is
//! the entropy of its tokens plus `TOKEN_BITS` for every token it holds (about what its table
//! costs to send). The costs use a logarithm made of IEEE basic operations only, so every machine
//! grows the same tree from the same image.
//!
//! Serialised in preorder, most significant bit first: a split is a one bit, its property
//! (4 bits) and threshold (6 bits), then its left and right subtrees; a leaf is a zero bit.

use tessera_core::{Error, Result};
use tessera_entropy::bits::{BitReader, BitWriter};

use super::half_octave;

/// Properties of a sample.
pub const PROPERTIES: usize = 14;
/// Bins of a property.
pub const BINS: usize = 48;
/// Most leaves of a tree.
pub const MAX_LEAVES: usize = 64;
/// A split must save more than this many bits.
const SPLIT_BITS: f64 = 32.0;
/// What a leaf pays for each token it holds.
const TOKEN_BITS: f64 = 10.0;
/// Leaves with fewer samples are not split.
const MIN_SPLIT: usize = 256;

/// The properties of one sample, binned.
pub type Properties = [u8; PROPERTIES];

/// The bin of a magnitude: its half-octave.
#[inline(always)]
pub fn unsigned_bin(v: u32) -> u8 {
    half_octave(v).min(BINS - 1) as u8
}

/// The bin of a signed value: the middle bin for zero, its half-octave above it for positive
/// values, below it for negative ones.
#[inline(always)]
pub fn signed_bin(v: i32) -> u8 {
    let m = half_octave(v.unsigned_abs()).min(BINS / 2 - 1) as u8;
    if v < 0 {
        (BINS / 2) as u8 - m
    } else {
        (BINS / 2) as u8 + m
    }
}

/// A node in preorder: a split (its left subtree follows it) or a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Split {
        property: u8,
        threshold: u8,
        right: u16,
    },
    Leaf(u16),
}

/// A plane's context tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    nodes: Vec<Node>,
    leaves: usize,
}

impl Default for Tree {
    /// One leaf: a single context.
    fn default() -> Tree {
        Tree {
            nodes: vec![Node::Leaf(0)],
            leaves: 1,
        }
    }
}

impl Tree {
    /// The number of leaves, numbered in preorder from zero.
    pub fn leaves(&self) -> usize {
        self.leaves
    }

    /// The leaf a sample with these properties falls in.
    #[inline(always)]
    pub fn leaf(&self, properties: &Properties) -> usize {
        let mut i = 0;
        loop {
            match self.nodes.get(i) {
                Some(&Node::Split {
                    property,
                    threshold,
                    right,
                }) => {
                    let above = properties
                        .get(usize::from(property))
                        .is_some_and(|&p| p > threshold);
                    i = if above { usize::from(right) } else { i + 1 };
                }
                Some(&Node::Leaf(leaf)) => return usize::from(leaf),
                // Trees are checked when read: every path ends in a leaf.
                None => return 0,
            }
        }
    }

    /// Grows the tree of the samples (properties and token, in any order) of one plane, whose
    /// tokens are below `tokens`.
    pub fn grow(samples: &[(Properties, u8)], tokens: usize) -> Tree {
        let table: Vec<f64> = (0..=samples.len() as u64).map(x_log2_x).collect();
        let mut built = vec![Built::Leaf];
        let mut leaves = vec![Leaf::new(
            samples,
            (0..samples.len() as u32).collect(),
            tokens,
            0,
            &table,
        )];
        while leaves.len() < MAX_LEAVES {
            let best = leaves
                .iter()
                .enumerate()
                .filter_map(|(i, leaf)| leaf.best.map(|split| (i, split)))
                .fold(
                    None,
                    |best: Option<(usize, Split)>, (i, split)| match best {
                        Some((_, b)) if b.gain >= split.gain => best,
                        _ => Some((i, split)),
                    },
                );
            let Some((i, split)) = best else { break };
            let parent = std::mem::take(&mut leaves[i].indices);
            let (left, right): (Vec<u32>, Vec<u32>) = parent
                .into_iter()
                .partition(|&s| samples[s as usize].0[split.property] <= split.threshold);
            let node = leaves[i].node;
            let (l, r) = (built.len(), built.len() + 1);
            built[node] = Built::Split {
                property: split.property as u8,
                threshold: split.threshold,
                children: [l, r],
            };
            built.push(Built::Leaf);
            built.push(Built::Leaf);
            leaves[i] = Leaf::new(samples, left, tokens, l, &table);
            leaves.push(Leaf::new(samples, right, tokens, r, &table));
        }
        // Flatten in preorder, numbering the leaves as they come.
        let (mut nodes, mut count) = (Vec::with_capacity(built.len()), 0);
        let mut stack = vec![(0usize, None::<usize>)];
        while let Some((at, patch)) = stack.pop() {
            if let Some(split) = patch {
                let right = nodes.len() as u16;
                if let Node::Split { right: r, .. } = &mut nodes[split] {
                    *r = right;
                }
            }
            match built[at] {
                Built::Split {
                    property,
                    threshold,
                    children,
                } => {
                    let me = nodes.len();
                    nodes.push(Node::Split {
                        property,
                        threshold,
                        right: 0,
                    });
                    stack.push((children[1], Some(me)));
                    stack.push((children[0], None));
                }
                Built::Leaf => {
                    nodes.push(Node::Leaf(count as u16));
                    count += 1;
                }
            }
        }
        Tree {
            nodes,
            leaves: count,
        }
    }

    /// Appends the tree to `bits`.
    pub fn write(&self, bits: &mut BitWriter) {
        for node in &self.nodes {
            match *node {
                Node::Split {
                    property,
                    threshold,
                    ..
                } => {
                    bits.write_bit(true);
                    bits.write_bits(u32::from(property), 4);
                    bits.write_bits(u32::from(threshold), 6);
                }
                Node::Leaf(_) => bits.write_bit(false),
            }
        }
    }

    /// Reads a tree written by [`Tree::write`], checking that it is complete, has at most
    /// `MAX_LEAVES` leaves and uses only known properties and thresholds.
    pub fn read(bits: &mut BitReader) -> Result<Tree> {
        let truncated = |_| Error::Truncated("lossless context tree".into());
        let (mut nodes, mut leaves) = (Vec::new(), 0);
        // Splits whose right subtree has not started yet.
        let mut open: Vec<usize> = Vec::new();
        loop {
            if nodes.len() >= 2 * MAX_LEAVES - 1 {
                return Err(Error::corrupt("lossless context tree too large"));
            }
            if bits.read_bit().map_err(truncated)? {
                let property = bits.read_bits(4).map_err(truncated)? as u8;
                let threshold = bits.read_bits(6).map_err(truncated)? as u8;
                if usize::from(property) >= PROPERTIES || usize::from(threshold) >= BINS - 1 {
                    return Err(Error::corrupt("lossless context tree split"));
                }
                open.push(nodes.len());
                nodes.push(Node::Split {
                    property,
                    threshold,
                    right: 0,
                });
            } else {
                nodes.push(Node::Leaf(leaves));
                leaves += 1;
                // The next node starts the right subtree of the innermost open split.
                match open.pop() {
                    Some(split) => {
                        let right = nodes.len() as u16;
                        if let Node::Split { right: r, .. } = &mut nodes[split] {
                            *r = right;
                        }
                    }
                    None => {
                        return Ok(Tree {
                            nodes,
                            leaves: usize::from(leaves),
                        })
                    }
                }
            }
        }
    }
}

/// A node while the tree grows: a split with the indices of its children, or a leaf.
enum Built {
    Split {
        property: u8,
        threshold: u8,
        children: [usize; 2],
    },
    Leaf,
}

/// A leaf while the tree grows: its samples, its node and its best split.
struct Leaf {
    indices: Vec<u32>,
    node: usize,
    best: Option<Split>,
}

#[derive(Clone, Copy, Debug)]
struct Split {
    property: usize,
    threshold: u8,
    gain: f64,
}

impl Leaf {
    /// `table` holds n · log₂ n for every count up to the number of samples.
    fn new(
        samples: &[(Properties, u8)],
        indices: Vec<u32>,
        tokens: usize,
        node: usize,
        table: &[f64],
    ) -> Leaf {
        let best = if indices.len() >= MIN_SPLIT {
            best_split(samples, &indices, tokens, table)
        } else {
            None
        };
        Leaf {
            indices,
            node,
            best,
        }
    }
}

/// The split of a leaf's samples that saves the most bits, if one saves more than `SPLIT_BITS`.
fn best_split(
    samples: &[(Properties, u8)],
    indices: &[u32],
    tokens: usize,
    table: &[f64],
) -> Option<Split> {
    let cost = |counts: &[u64]| cost(counts, table);
    let mut whole = vec![0u64; tokens];
    indices
        .iter()
        .for_each(|&s| whole[usize::from(samples[s as usize].1)] += 1);
    let base = cost(&whole);
    let mut best: Option<Split> = None;
    // Token counts by property and bin, in one pass over the samples.
    let mut counts = vec![0u32; PROPERTIES * BINS * tokens];
    for &s in indices {
        let (props, token) = &samples[s as usize];
        for (property, &bin) in props.iter().enumerate() {
            counts[(property * BINS + usize::from(bin)) * tokens + usize::from(*token)] += 1;
        }
    }
    let (mut left, mut right) = (vec![0u64; tokens], vec![0u64; tokens]);
    for (property, counts) in counts.chunks_exact(BINS * tokens).enumerate() {
        left.iter_mut().for_each(|c| *c = 0);
        for threshold in 0..BINS - 1 {
            let bin = &counts[threshold * tokens..(threshold + 1) * tokens];
            if bin.iter().all(|&c| c == 0) {
                continue;
            }
            left.iter_mut()
                .zip(bin)
                .for_each(|(l, &b)| *l += u64::from(b));
            right
                .iter_mut()
                .zip(left.iter().zip(&whole))
                .for_each(|(r, (l, w))| *r = w - l);
            if right.iter().all(|&c| c == 0) {
                break;
            }
            let gain = base - cost(&left) - cost(&right);
            if gain > SPLIT_BITS && best.is_none_or(|b| gain > b.gain) {
                best = Some(Split {
                    property,
                    threshold: threshold as u8,
                    gain,
                });
            }
        }
    }
    best
}

/// The bits a leaf with these token counts costs: their entropy plus `TOKEN_BITS` for each
/// token present; `table` holds n · log₂ n for every count.
fn cost(counts: &[u64], table: &[f64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let mut bits = table[total as usize];
    for &c in counts.iter().filter(|&&c| c > 0) {
        bits -= table[c as usize] - TOKEN_BITS;
    }
    bits
}

/// `n · log₂ n`.
fn x_log2_x(n: u64) -> f64 {
    if n < 2 {
        0.0
    } else {
        let x = n as f64;
        x * log2(x)
    }
}

/// log₂ of a positive finite `x`, from IEEE basic operations only (every machine computes the
/// same value): the exponent from the bits, the mantissa's logarithm from the series of
/// 2·atanh((m − 1) / (m + 1)), accurate to about 1e-12.
fn log2(x: f64) -> f64 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52));
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let mut term = z;
    let mut sum = 0.0;
    let mut k = 1.0;
    while k < 40.0 {
        sum += term / k;
        term *= z2;
        k += 2.0;
    }
    exponent as f64 + 2.0 * sum * std::f64::consts::LOG2_E
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_order_values_and_stay_in_range() {
        let values = [-70_000, -300, -5, -1, 0, 1, 2, 5, 300, 70_000];
        let bins: Vec<u8> = values.iter().map(|&v| signed_bin(v)).collect();
        assert!(bins.windows(2).all(|w| w[0] < w[1]), "{bins:?}");
        assert!(bins.iter().all(|&b| usize::from(b) < BINS));
        assert_eq!(signed_bin(0), (BINS / 2) as u8);
        assert_eq!(unsigned_bin(0), 0);
        assert_eq!(unsigned_bin(u32::MAX), (BINS - 1) as u8);
    }

    #[test]
    fn the_logarithm_is_close() {
        for &x in &[1.0, 1.5, 2.0, 3.0, 10.0, 1000.0, 123_456_789.0] {
            assert!((log2(x) - f64::log2(x)).abs() < 1e-9, "{x}");
        }
    }

    /// Samples whose token is small when property 3 is low and large when it is high.
    fn two_kinds() -> Vec<(Properties, u8)> {
        (0..4000u32)
            .map(|i| {
                let mut p = [0u8; PROPERTIES];
                p.iter_mut()
                    .enumerate()
                    .for_each(|(k, v)| *v = ((i * 7 + k as u32 * 13) % 40) as u8);
                let token = if p[3] > 20 { 20 + (i % 5) } else { i % 3 };
                (p, token as u8)
            })
            .collect()
    }

    #[test]
    fn a_tree_finds_the_property_that_separates_the_tokens_and_reads_back() {
        let samples = two_kinds();
        let tree = Tree::grow(&samples, 30);
        assert!(tree.leaves() >= 2);
        assert!(
            matches!(
                tree.nodes[0],
                Node::Split {
                    property: 3,
                    threshold: 20,
                    ..
                }
            ),
            "{:?}",
            tree.nodes[0]
        );
        // Every sample of one kind lands in leaves the other kind never reaches.
        let low: std::collections::BTreeSet<usize> = samples
            .iter()
            .filter(|s| s.0[3] <= 20)
            .map(|s| tree.leaf(&s.0))
            .collect();
        assert!(samples
            .iter()
            .filter(|s| s.0[3] > 20)
            .all(|s| !low.contains(&tree.leaf(&s.0))));
        let mut bits = BitWriter::new();
        tree.write(&mut bits);
        let bytes = bits.finish();
        assert_eq!(Tree::read(&mut BitReader::new(&bytes)).unwrap(), tree);
        // Cut short, it is an error.
        assert!(Tree::read(&mut BitReader::new(&bytes[..bytes.len() / 2])).is_err());
    }

    #[test]
    fn bad_trees_are_refused() {
        // A split on property 15, then one on threshold 63.
        for (property, threshold) in [(15u32, 3u32), (2, 63)] {
            let mut bits = BitWriter::new();
            bits.write_bit(true);
            bits.write_bits(property, 4);
            bits.write_bits(threshold, 6);
            bits.write_bits(0, 2);
            assert!(Tree::read(&mut BitReader::new(&bits.finish())).is_err());
        }
        // Splits without end.
        let mut bits = BitWriter::new();
        for _ in 0..2 * MAX_LEAVES {
            bits.write_bit(true);
            bits.write_bits(1, 4);
            bits.write_bits(1, 6);
        }
        assert!(Tree::read(&mut BitReader::new(&bits.finish())).is_err());
        // One leaf is a whole tree.
        let mut bits = BitWriter::new();
        Tree::default().write(&mut bits);
        assert_eq!(
            Tree::read(&mut BitReader::new(&bits.finish())).unwrap(),
            Tree::default()
        );
    }
}
