//! The `.tsr` container.
//!
//! ```text
//! magic        8 bytes   89 54 53 52 0D 0A 1A 0A  ("\x89TSR\r\n\x1a\n")
//! version      u8        1
//! codec        u8 length + ASCII name ([a-z0-9-], at most 32 bytes)
//! width        u32 LE
//! height       u32 LE    height of one frame
//! frames       u32 LE    frames stacked top to bottom (1 for a single image)
//! channels     u8        1..=4
//! bit depth    u8        8 or 16
//! flags        u8        bit 0: a model tag follows; other bits must be 0
//! [model]      u8 length + UTF-8 name (at most 64 bytes), 32-byte SHA-256 of the weights
//! params       u32 LE length + bytes
//! payload      u64 LE length + bytes
//! crc32        u32 LE    CRC-32 (IEEE) of every byte before it
//! ```
//!
//! Every length is checked against [`Limits`] and against the bytes actually present before
//! anything is allocated, and the checksum is verified before the payload reaches a decoder.

use crate::image::check_geometry;
use crate::{Error, Limits, ModelTag, Result};

/// The eight bytes every `.tsr` file starts with.
pub const MAGIC: [u8; 8] = *b"\x89TSR\r\n\x1a\n";
/// The container version this build writes and reads.
pub const VERSION: u8 = 1;
const MAX_CODEC_NAME: usize = 32;
const MAX_MODEL_NAME: usize = 64;

/// Everything in a container but the codec parameters and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Codec name.
    pub codec: String,
    /// Width in pixels.
    pub width: u32,
    /// Height of one frame in pixels.
    pub height: u32,
    /// Frames stacked top to bottom.
    pub frames: u32,
    /// Channels per pixel.
    pub channels: u8,
    /// Bits per sample.
    pub bit_depth: u8,
    /// The weights a learned codec used.
    pub model: Option<ModelTag>,
}

impl Header {
    /// The header describing `image` coded by `codec`.
    pub fn for_image(codec: &str, image: &crate::Image, model: Option<ModelTag>) -> Self {
        Header {
            codec: codec.to_string(),
            width: image.width(),
            height: image.height(),
            frames: image.frames(),
            channels: image.channels(),
            bit_depth: image.bit_depth(),
            model,
        }
    }

    /// Pixels in all frames.
    pub fn pixel_count(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height) * u64::from(self.frames)
    }
}

/// A parsed container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// Geometry, codec and model.
    pub header: Header,
    /// Codec parameters.
    pub params: Vec<u8>,
    /// Coded data.
    pub payload: Vec<u8>,
}

impl Container {
    /// Serialises the container.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let h = &self.header;
        check_name(&h.codec)?;
        let mut out = Vec::with_capacity(64 + self.params.len() + self.payload.len());
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(h.codec.len() as u8);
        out.extend_from_slice(h.codec.as_bytes());
        out.extend_from_slice(&h.width.to_le_bytes());
        out.extend_from_slice(&h.height.to_le_bytes());
        out.extend_from_slice(&h.frames.to_le_bytes());
        out.push(h.channels);
        out.push(h.bit_depth);
        match &h.model {
            None => out.push(0),
            Some(m) => {
                if m.name.len() > MAX_MODEL_NAME {
                    return Err(Error::InvalidParam(format!("model name '{}' too long", m.name)));
                }
                out.push(1);
                out.push(m.name.len() as u8);
                out.extend_from_slice(m.name.as_bytes());
                out.extend_from_slice(&m.hash);
            }
        }
        let params_len = u32::try_from(self.params.len())
            .map_err(|_| Error::Limit("codec parameters over 4 GiB".into()))?;
        out.extend_from_slice(&params_len.to_le_bytes());
        out.extend_from_slice(&self.params);
        out.extend_from_slice(&(self.payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.payload);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Parses a container with the default [`Limits`].
    pub fn from_bytes(data: &[u8]) -> Result<Self> {
        Self::from_bytes_with(data, &Limits::default())
    }

    /// Parses a container, refusing anything over `limits`.
    pub fn from_bytes_with(data: &[u8], limits: &Limits) -> Result<Self> {
        let mut r = Reader { data, pos: 0 };
        if data.len() < MAGIC.len() || data[..MAGIC.len()] != MAGIC {
            return Err(Error::BadMagic);
        }
        r.pos = MAGIC.len();
        let version = r.u8()?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let name_len = usize::from(r.u8()?);
        if name_len == 0 || name_len > MAX_CODEC_NAME {
            return Err(Error::corrupt("codec name length"));
        }
        let codec = String::from_utf8(r.bytes(name_len)?.to_vec())
            .map_err(|_| Error::corrupt("codec name is not UTF-8"))?;
        check_name(&codec)?;
        let width = r.u32()?;
        let height = r.u32()?;
        let frames = r.u32()?;
        let channels = r.u8()?;
        let bit_depth = r.u8()?;
        check_geometry(width, height, frames, channels, bit_depth, limits).map_err(|e| match e {
            Error::Limit(_) => e,
            other => Error::Corrupt(other.to_string()),
        })?;
        let flags = r.u8()?;
        if flags & !1 != 0 {
            return Err(Error::corrupt(format!("unknown flags {flags:#04x}")));
        }
        let model = if flags & 1 == 1 {
            let len = usize::from(r.u8()?);
            if len > MAX_MODEL_NAME {
                return Err(Error::corrupt("model name length"));
            }
            let name = String::from_utf8(r.bytes(len)?.to_vec())
                .map_err(|_| Error::corrupt("model name is not UTF-8"))?;
            let hash: [u8; 32] = r.bytes(32)?.try_into().expect("32 bytes");
            Some(ModelTag { name, hash })
        } else {
            None
        };
        let params_len = r.u32()?;
        if params_len > limits.max_params {
            return Err(Error::Limit(format!("{params_len} bytes of codec parameters")));
        }
        let params = r.bytes(params_len as usize)?.to_vec();
        let payload_len = r.u64()?;
        if payload_len > limits.max_payload {
            return Err(Error::Limit(format!("{payload_len} bytes of payload")));
        }
        let payload_len = usize::try_from(payload_len)
            .map_err(|_| Error::Limit("payload larger than memory".into()))?;
        let payload = r.bytes(payload_len)?;
        let body_end = r.pos;
        let crc = r.u32()?;
        if r.pos != data.len() {
            return Err(Error::corrupt("trailing bytes after the checksum"));
        }
        if crc32fast::hash(&data[..body_end]) != crc {
            return Err(Error::Checksum);
        }
        let header = Header { codec, width, height, frames, channels, bit_depth, model };
        Ok(Container { header, params, payload: payload.to_vec() })
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CODEC_NAME
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::corrupt(format!("invalid codec name {name:?}")))
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::Truncated("container ends early".into())),
        }
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.bytes(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Container {
        Container {
            header: Header {
                codec: "lossless".into(),
                width: 3,
                height: 2,
                frames: 1,
                channels: 3,
                bit_depth: 8,
                model: Some(ModelTag { name: "m".into(), hash: [7; 32] }),
            },
            params: vec![1, 2, 3],
            payload: (0..100).collect(),
        }
    }

    #[test]
    fn round_trip() {
        let c = sample();
        assert_eq!(Container::from_bytes(&c.to_bytes().unwrap()).unwrap(), c);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error() {
        let bytes = sample().to_bytes().unwrap();
        for n in 0..bytes.len() {
            assert!(Container::from_bytes(&bytes[..n]).is_err(), "cut at {n}");
        }
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(Container::from_bytes(&b).is_err(), "flip {i}");
        }
    }

    #[test]
    fn huge_declared_sizes_are_refused_before_allocating() {
        let mut bytes = sample().to_bytes().unwrap();
        // Claim a 2^40-byte payload: the parser must fail without trying to allocate it.
        let payload_len_at = bytes.len() - 4 - 100 - 8;
        bytes[payload_len_at..payload_len_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(matches!(Container::from_bytes(&bytes), Err(Error::Limit(_))));
    }
}
