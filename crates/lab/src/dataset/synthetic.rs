//! A small synthetic set of flat graphics for the lossless comparison: glyph text, a bar chart,
//! a line chart, pixel art and a UI mock-up. Few colours, long runs and repeated patterns —
//! the images where run-length and dictionary coders do well and photo predictors do not.
//! Generated deterministically (a fixed-seed xorshift), so every machine gets the same pixels.

use tessera_core::Image;

use super::Item;
use crate::Result;

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() >> 33) as u32 % n.max(1)
    }
}

/// An RGB canvas.
struct Canvas {
    w: u32,
    h: u32,
    px: Vec<[u8; 3]>,
}

impl Canvas {
    fn new(w: u32, h: u32, bg: [u8; 3]) -> Self {
        Canvas { w, h, px: vec![bg; (w * h) as usize] }
    }
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as u32) < self.w && (y as u32) < self.h {
            self.px[(y as u32 * self.w + x as u32) as usize] = c;
        }
    }
    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }
    /// A line `t` pixels thick (Bresenham with a square pen).
    fn line(&mut self, (mut x0, mut y0): (i64, i64), (x1, y1): (i64, i64), t: i64, c: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let mut err = dx + dy;
        loop {
            self.rect(x0, y0, t, t, c);
            if x0 == x1 && y0 == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += sx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sy;
            }
        }
    }
    #[allow(clippy::too_many_arguments)]
    /// Draws `len` glyphs of a made-up 5×7 font at `scale`, returning the x after the text.
    fn text(&mut self, font: &Font, rng: &mut Rng, x: i64, y: i64, len: usize, scale: i64, c: [u8; 3]) -> i64 {
        let mut cx = x;
        for _ in 0..len {
            let g = &font.0[rng.below(font.0.len() as u32) as usize];
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits >> (4 - col) & 1 == 1 {
                        self.rect(cx + col * scale, y + row as i64 * scale, scale, scale, c);
                    }
                }
            }
            cx += 6 * scale;
        }
        cx
    }
    fn into_image(self, gray: bool) -> Result<Image> {
        if gray {
            let g: Vec<u8> = self.px.iter().map(|p| ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000) as u8).collect();
            return Ok(Image::from_u8(self.w, self.h, 1, &g)?);
        }
        let flat: Vec<u8> = self.px.iter().flatten().copied().collect();
        Ok(Image::from_u8(self.w, self.h, 3, &flat)?)
    }
}

/// 40 glyphs of 7 rows × 5 bits, made once from the generator (letter-like: each has a stem).
struct Font(Vec<[u8; 7]>);

impl Font {
    fn new(rng: &mut Rng) -> Self {
        Font(
            (0..40)
                .map(|_| {
                    let stem = 1u8 << (4 - rng.below(2) * 4);
                    let mut g = [0u8; 7];
                    for row in g.iter_mut() {
                        *row = (rng.below(32) as u8 & rng.below(32) as u8) | stem;
                    }
                    g
                })
                .collect(),
        )
    }
}

const WHITE: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [20, 20, 30];
const PALETTE: [[u8; 3]; 6] =
    [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75]];

fn document(rng: &mut Rng, font: &Font, gray: bool) -> Result<Image> {
    let mut c = Canvas::new(384, 256, WHITE);
    let mut y = 12;
    while y + 14 < 256 {
        let mut x = 12;
        while x < 330 {
            let len = 2 + rng.below(8) as usize;
            x = c.text(font, rng, x, y, len, 1, INK) + 6;
        }
        y += 12;
    }
    c.into_image(gray)
}

fn bar_chart(rng: &mut Rng, font: &Font) -> Result<Image> {
    let mut c = Canvas::new(320, 240, WHITE);
    for gy in (30..210).step_by(30) {
        c.rect(40, gy, 260, 1, [220, 220, 220]);
    }
    c.rect(40, 20, 2, 190, INK);
    c.rect(40, 208, 260, 2, INK);
    for i in 0..8 {
        let h = 20 + rng.below(170) as i64;
        c.rect(50 + i * 31, 208 - h, 22, h, PALETTE[i as usize % PALETTE.len()]);
        c.text(font, rng, 52 + i * 31, 216, 3, 1, INK);
    }
    c.text(font, rng, 90, 4, 14, 1, INK);
    c.into_image(false)
}

fn line_chart(rng: &mut Rng, font: &Font) -> Result<Image> {
    let mut c = Canvas::new(320, 240, [250, 250, 250]);
    c.rect(30, 10, 1, 200, INK);
    c.rect(30, 210, 280, 1, INK);
    for (s, &colour) in PALETTE.iter().take(3).enumerate() {
        let mut y = 60 + rng.below(100) as i64;
        let mut prev = (30, y);
        for x in (40..=300).step_by(20) {
            y = (y + rng.below(61) as i64 - 30).clamp(15, 205);
            c.line(prev, (x, y), 2, colour);
            prev = (x, y);
        }
        c.text(font, rng, 40 + s as i64 * 90, 222, 6, 1, colour);
    }
    c.into_image(false)
}

fn pixel_art(rng: &mut Rng) -> Result<Image> {
    // A 32×24 sprite sheet of blobs in a 6-colour palette, each cell blown up to 10×10.
    let (sw, sh) = (32i64, 24i64);
    let mut cells = vec![0usize; (sw * sh) as usize];
    for _ in 0..14 {
        let (cx, cy, r) = (rng.below(32) as i64, rng.below(24) as i64, 2 + rng.below(5) as i64);
        let col = 1 + rng.below(5) as usize;
        for y in 0..sh {
            for x in 0..sw {
                if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                    cells[(y * sw + x) as usize] = col;
                }
            }
        }
    }
    let colours = [[24, 20, 37], [230, 72, 46], [254, 174, 52], [99, 199, 77], [44, 232, 245], [192, 203, 220]];
    let mut c = Canvas::new(320, 240, colours[0]);
    for y in 0..sh {
        for x in 0..sw {
            c.rect(x * 10, y * 10, 10, 10, colours[cells[(y * sw + x) as usize]]);
        }
    }
    c.into_image(false)
}

fn ui(rng: &mut Rng, font: &Font) -> Result<Image> {
    let mut c = Canvas::new(400, 300, [236, 239, 244]);
    c.rect(20, 20, 360, 260, WHITE);
    c.rect(20, 20, 360, 24, [59, 66, 82]);
    c.text(font, rng, 30, 28, 10, 1, WHITE);
    for (i, colour) in [[191, 97, 106], [235, 203, 139], [163, 190, 140]].iter().enumerate() {
        c.rect(340 + i as i64 * 12, 28, 8, 8, *colour);
    }
    c.rect(20, 44, 90, 236, [229, 233, 240]);
    for i in 0..8 {
        c.text(font, rng, 28, 56 + i * 18, 6, 1, INK);
    }
    for i in 0..9 {
        let len = 8 + rng.below(25) as usize;
        c.text(font, rng, 124, 60 + i * 16, len, 1, [46, 52, 64]);
    }
    for i in 0..3 {
        c.rect(130 + i * 80, 236, 64, 24, [94, 129, 172]);
        c.text(font, rng, 138 + i * 80, 245, 5, 1, WHITE);
    }
    c.into_image(false)
}

/// The synthetic set: six images, always the same pixels.
pub fn generate() -> Result<Vec<Item>> {
    let mut rng = Rng(0x7E55_E2A5_1A7B_0001);
    let font = Font::new(&mut rng);
    let items = vec![
        ("text", document(&mut rng, &font, false)?),
        ("text-gray", document(&mut rng, &font, true)?),
        ("bar-chart", bar_chart(&mut rng, &font)?),
        ("line-chart", line_chart(&mut rng, &font)?),
        ("pixel-art", pixel_art(&mut rng)?),
        ("ui", ui(&mut rng, &font)?),
    ];
    Ok(items.into_iter().map(|(n, image)| Item { name: n.into(), image }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn is_deterministic_and_flat() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), 6);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.image, y.image, "{}", x.name);
            // Flat graphics: few distinct colours.
            let ch = x.image.channels() as usize;
            let colours: HashSet<&[u16]> = x.image.samples().chunks(ch).collect();
            assert!(colours.len() <= 16, "{} has {} colours", x.name, colours.len());
            assert!(colours.len() >= 2, "{} is blank", x.name);
        }
        assert_eq!(a[1].image.channels(), 1);
    }
}
