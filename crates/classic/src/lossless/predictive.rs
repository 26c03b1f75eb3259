//! `predictive`: a LOCO-I (JPEG-LS, lossless mode) coder.
//!
//! Each plane (after YCoCg-R when it helps) is coded in raster order. The three local gradients
//! NE − N, N − NW and NW − W are quantised to nine levels each and merged by sign into 365
//! contexts. In a context with all gradients zero the coder enters run mode: the length of the
//! run of samples equal to W is coded with the adaptive J-table run code, and the sample that
//! ends a run early is coded with the two run-interruption contexts. Elsewhere the sample is
//! predicted with the median edge detector, corrected by the context's bias C[Q], and the
//! residual (reduced modulo the plane's range) is mapped to a non-negative integer and
//! written with a length-limited Golomb–Rice code whose parameter follows the context's mean
//! absolute error A[Q]/N[Q].
//!
//! Choice: Golomb–Rice codes, as in JPEG-LS, rather than arithmetic coding — the point of this
//! codec is the classical fast coder; the `calic` codec does the arithmetic-coded variant.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::bits::{BitReader, BitWriter};

use super::{
    choose_transform, med, mid_value, parse_transform, plane_geometry, plane_range,
    transform_params, Neighbours, Planes,
};

const VERSION: u8 = 1;
const RESET: i32 = 64;
const J: [u32; 32] = [
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13,
    14, 15,
];
/// Regular contexts are indexed by the sign-normalised (Q1, Q2, Q3) in 9 × 9 × 9 (365 used);
/// two more for run interruption.
const CONTEXTS: usize = 729 + 2;

/// The `predictive` codec.
#[derive(Debug, Default)]
pub struct Predictive;

impl Codec for Predictive {
    fn name(&self) -> &'static str {
        "predictive"
    }
    fn summary(&self) -> &'static str {
        "LOCO-I / JPEG-LS: MED prediction, 365 gradient contexts, bias correction, Golomb-Rice, run mode"
    }
    fn is_lossless(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let ycocg = choose_transform(image, params)?;
        let mut planes = Planes::from_image(image, ycocg);
        let mut out = BitWriter::new();
        let (w, h) = (planes.width, planes.height);
        for (c, plane) in planes.data.iter_mut().enumerate() {
            let mut coder = Loco::new(image.bit_depth(), ycocg, c);
            coder.plane(plane, w, h, &mut Bits::Write(&mut out))?;
        }
        Ok(Encoded {
            params: transform_params(VERSION, ycocg),
            payload: out.finish(),
            model: None,
        })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let ycocg = parse_transform(params, header, VERSION)?;
        let (w, h) = plane_geometry(header);
        let mut r = BitReader::new(payload);
        let mut data = Vec::with_capacity(usize::from(header.channels));
        for c in 0..usize::from(header.channels) {
            let mut plane = vec![0i32; w * h];
            let mut coder = Loco::new(header.bit_depth, ycocg, c);
            coder.plane(&mut plane, w, h, &mut Bits::Read(&mut r))?;
            data.push(plane);
        }
        Planes {
            width: w,
            height: h,
            data,
            ycocg,
        }
        .into_image(header.width, header.height, header.frames, header.bit_depth)
    }
}

enum Bits<'a, 'b> {
    Write(&'a mut BitWriter),
    Read(&'a mut BitReader<'b>),
}

/// The state of one plane's coder: parameters and per-context statistics.
struct Loco {
    lo: i32,
    hi: i32,
    range: i32,
    qbpp: u32,
    limit: u32,
    mid: i32,
    t: [i32; 3],
    a: Vec<i32>,
    b: Vec<i32>,
    c: Vec<i32>,
    n: Vec<i32>,
    nn: [i32; 2],
    run_index: usize,
}

/// Bits needed for values below `v`.
fn ceil_log2(v: i32) -> u32 {
    32 - (v - 1).max(0).leading_zeros()
}

impl Loco {
    fn new(bit_depth: u8, ycocg: bool, plane: usize) -> Loco {
        let (lo, hi) = plane_range(bit_depth, ycocg, plane);
        let range = hi - lo + 1;
        let qbpp = ceil_log2(range);
        let bpp = u32::from(bit_depth).max(2);
        let maxval = (1i32 << bit_depth) - 1;
        let factor = (maxval.min(4095) + 128) >> 8;
        let t = if maxval >= 128 {
            [factor + 2, 4 * factor + 3, 17 * factor + 4]
        } else {
            [3, 7, 21]
        };
        let a0 = ((range + 32) / 64).max(2);
        Loco {
            lo,
            hi,
            range,
            qbpp,
            limit: 2 * (bpp + bpp.max(8)),
            mid: mid_value(bit_depth, ycocg, plane),
            t,
            a: vec![a0; CONTEXTS],
            b: vec![0; CONTEXTS],
            c: vec![0; CONTEXTS],
            n: vec![1; CONTEXTS],
            nn: [0; 2],
            run_index: 0,
        }
    }

    #[inline]
    fn quantise(&self, d: i32) -> i32 {
        let [t1, t2, t3] = self.t;
        let s = d.signum();
        let a = d.abs();
        s * if a == 0 {
            0
        } else if a < t1 {
            1
        } else if a < t2 {
            2
        } else if a < t3 {
            3
        } else {
            4
        }
    }

    /// Reduces an error modulo the range into `−range/2 ..= range/2`.
    #[inline]
    fn reduce(&self, mut e: i32) -> i32 {
        if e < 0 {
            e += self.range;
        }
        if e >= (self.range + 1) / 2 {
            e -= self.range;
        }
        e
    }

    /// Brings a reconstructed value back into range (the inverse of [`Loco::reduce`]).
    #[inline]
    fn wrap(&self, mut v: i32) -> i32 {
        if v < self.lo {
            v += self.range;
        } else if v > self.hi {
            v -= self.range;
        }
        v
    }

    fn plane(&mut self, plane: &mut [i32], w: usize, h: usize, io: &mut Bits) -> Result<()> {
        for y in 0..h {
            let mut x = 0;
            while x < w {
                let nb = Neighbours::at(plane, w, x, y, self.mid);
                let q = [
                    self.quantise(nb.ne - nb.n),
                    self.quantise(nb.n - nb.nw),
                    self.quantise(nb.nw - nb.w),
                ];
                if q == [0, 0, 0] {
                    x = self.run(plane, w, x, y, nb.w, io)?;
                } else {
                    self.regular(plane, w, x, y, nb, q, io)?;
                    x += 1;
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn regular(
        &mut self,
        plane: &mut [i32],
        w: usize,
        x: usize,
        y: usize,
        nb: Neighbours,
        q: [i32; 3],
        io: &mut Bits,
    ) -> Result<()> {
        let first = q.iter().copied().find(|&v| v != 0).unwrap_or(0);
        let sign = if first < 0 { -1 } else { 1 };
        let ctx = ((sign * q[0] + 4) * 81 + (sign * q[1] + 4) * 9 + (sign * q[2] + 4)) as usize;
        let px = (med(nb.w, nb.n, nb.nw) + sign * self.c[ctx]).clamp(self.lo, self.hi);
        let mut k = 0;
        while (self.n[ctx] << k) < self.a[ctx] && k < 24 {
            k += 1;
        }
        let special = k == 0 && 2 * self.b[ctx] <= -self.n[ctx];
        let i = y * w + x;
        let err = match io {
            Bits::Write(out) => {
                let e = self.reduce(sign * (plane[i] - px));
                let m = if e >= 0 { 2 * e } else { -2 * e - 1 };
                let m = if special {
                    if e >= 0 {
                        2 * e + 1
                    } else {
                        -2 * (e + 1)
                    }
                } else {
                    m
                };
                self.write_golomb(out, m as u32, k, self.limit);
                e
            }
            Bits::Read(r) => {
                let m = self.read_golomb(r, k, self.limit)?;
                if m > 2 * self.range as u32 {
                    return Err(Error::corrupt("predictive residual out of range"));
                }
                let m = m as i32;
                let e = if special {
                    if m & 1 == 1 {
                        m >> 1
                    } else {
                        -(m >> 1) - 1
                    }
                } else if m & 1 == 0 {
                    m >> 1
                } else {
                    -(m >> 1) - 1
                };
                if e < -(self.range / 2) || e > self.range / 2 {
                    return Err(Error::corrupt("predictive residual out of range"));
                }
                plane[i] = self.wrap(px + sign * e);
                e
            }
        };
        // Context update and bias correction.
        self.b[ctx] += err;
        self.a[ctx] += err.abs();
        if self.n[ctx] == RESET {
            self.a[ctx] >>= 1;
            self.b[ctx] >>= 1;
            self.n[ctx] >>= 1;
        }
        self.n[ctx] += 1;
        let n = self.n[ctx];
        if self.b[ctx] <= -n {
            self.b[ctx] += n;
            if self.c[ctx] > -128 {
                self.c[ctx] -= 1;
            }
            if self.b[ctx] <= -n {
                self.b[ctx] = -n + 1;
            }
        } else if self.b[ctx] > 0 {
            self.b[ctx] -= n;
            if self.c[ctx] < 127 {
                self.c[ctx] += 1;
            }
            if self.b[ctx] > 0 {
                self.b[ctx] = 0;
            }
        }
        Ok(())
    }

    /// Codes a run of samples equal to `value` starting at `x`, and the sample that interrupts
    /// it; returns the column after them.
    fn run(
        &mut self,
        plane: &mut [i32],
        w: usize,
        x0: usize,
        y: usize,
        value: i32,
        io: &mut Bits,
    ) -> Result<usize> {
        let row = y * w;
        let mut x = x0;
        match io {
            Bits::Write(out) => {
                while x < w && plane[row + x] == value {
                    x += 1;
                }
                let mut count = x - x0;
                while count >= 1 << J[self.run_index] {
                    out.write_bit(true);
                    count -= 1 << J[self.run_index];
                    self.run_index = (self.run_index + 1).min(31);
                }
                if x == w {
                    if count > 0 {
                        out.write_bit(true);
                    }
                    return Ok(x);
                }
                out.write_bit(false);
                out.write_bits(count as u32, J[self.run_index]);
            }
            Bits::Read(r) => loop {
                if !r.read_bit()? {
                    let count = r.read_bits(J[self.run_index])? as usize;
                    if count >= 1 << J[self.run_index] || x + count >= w {
                        return Err(Error::corrupt("predictive run past the end of the row"));
                    }
                    plane[row + x..row + x + count].fill(value);
                    x += count;
                    break;
                }
                let chunk = 1usize << J[self.run_index];
                let n = chunk.min(w - x);
                plane[row + x..row + x + n].fill(value);
                x += n;
                if n == chunk {
                    self.run_index = (self.run_index + 1).min(31);
                }
                if x == w {
                    return Ok(x);
                }
            },
        }
        self.interruption(plane, w, x, y, io)?;
        self.run_index = self.run_index.saturating_sub(1);
        Ok(x + 1)
    }

    /// Codes the sample that ends a run before the end of its row.
    fn interruption(
        &mut self,
        plane: &mut [i32],
        w: usize,
        x: usize,
        y: usize,
        io: &mut Bits,
    ) -> Result<()> {
        let nb = Neighbours::at(plane, w, x, y, self.mid);
        let (ra, rb) = (nb.w, nb.n);
        let ri = usize::from(ra == rb);
        let ctx = 729 + ri;
        let px = if ri == 1 { ra } else { rb };
        let sign = if ri == 0 && ra > rb { -1 } else { 1 };
        let temp = self.a[ctx] + if ri == 1 { self.n[ctx] >> 1 } else { 0 };
        let mut k = 0;
        while (self.n[ctx] << k) < temp && k < 24 {
            k += 1;
        }
        let limit = self.limit - J[self.run_index] - 1;
        let (n, nn) = (self.n[ctx], self.nn[ri]);
        let i = y * w + x;
        let (err, em) = match io {
            Bits::Write(out) => {
                let e = self.reduce(sign * (plane[i] - px));
                let map = (k == 0 && e > 0 && 2 * nn < n) || (e < 0 && (2 * nn >= n || k != 0));
                let em = 2 * e.abs() - ri as i32 - i32::from(map);
                self.write_golomb(out, em as u32, k, limit);
                (e, em)
            }
            Bits::Read(r) => {
                let em = self.read_golomb(r, k, limit)?;
                if em > 2 * self.range as u32 {
                    return Err(Error::corrupt("predictive residual out of range"));
                }
                let em = em as i32;
                let t = em + ri as i32;
                let map = t & 1 == 1;
                let abs = (t + i32::from(map)) / 2;
                let e = if (k != 0 || 2 * nn >= n) == map {
                    -abs
                } else {
                    abs
                };
                if e < -(self.range / 2) || e > self.range / 2 {
                    return Err(Error::corrupt("predictive residual out of range"));
                }
                plane[i] = self.wrap(px + sign * e);
                (e, em)
            }
        };
        if err < 0 {
            self.nn[ri] += 1;
        }
        self.a[ctx] += (em + 1 - ri as i32) >> 1;
        if self.n[ctx] == RESET {
            self.a[ctx] >>= 1;
            self.n[ctx] >>= 1;
            self.nn[ri] >>= 1;
        }
        self.n[ctx] += 1;
        Ok(())
    }

    /// Length-limited Golomb–Rice code of `m` with parameter `k`.
    fn write_golomb(&self, out: &mut BitWriter, m: u32, k: u32, limit: u32) {
        let high = m >> k;
        let cap = limit - self.qbpp - 1;
        if high < cap {
            write_zeros(out, high);
            out.write_bit(true);
            out.write_bits(m & ((1 << k) - 1), k);
        } else {
            write_zeros(out, cap);
            out.write_bit(true);
            out.write_bits(m - 1, self.qbpp);
        }
    }

    fn read_golomb(&self, r: &mut BitReader, k: u32, limit: u32) -> Result<u32> {
        let cap = limit - self.qbpp - 1;
        let mut high = 0;
        while !r.read_bit()? {
            high += 1;
            if high > cap {
                return Err(Error::corrupt("predictive Golomb code too long"));
            }
        }
        if high < cap {
            Ok(high << k | r.read_bits(k)?)
        } else {
            Ok(r.read_bits(self.qbpp)? + 1)
        }
    }
}

/// Writes `n` zero bits.
fn write_zeros(out: &mut BitWriter, mut n: u32) {
    while n > 0 {
        let chunk = n.min(32);
        out.write_bits(0, chunk);
        n -= chunk;
    }
}
