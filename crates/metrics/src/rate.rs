//! Rates from real byte counts.

/// Bits per pixel: 8 × bytes / pixels.
pub fn bits_per_pixel(bytes: u64, pixels: u64) -> f64 {
    bytes as f64 * 8.0 / pixels.max(1) as f64
}

/// Bits per sub-pixel: 8 × bytes / (pixels × channels).
pub fn bits_per_subpixel(bytes: u64, pixels: u64, channels: u8) -> f64 {
    bits_per_pixel(bytes, pixels) / f64::from(channels.max(1))
}

/// Compression ratio: original bytes / compressed bytes.
pub fn compression_ratio(original_bytes: u64, compressed_bytes: u64) -> f64 {
    original_bytes as f64 / compressed_bytes.max(1) as f64
}
