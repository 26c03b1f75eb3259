//! Settings and quality ladders: parsing `--qualities` and checking every value against the
//! codec's knob before any work starts.

use std::collections::BTreeMap;

use crate::reference::format_value;
use crate::{Error, Result};

/// One point of a codec's ladder.
#[derive(Clone, Debug, PartialEq)]
pub enum Setting {
    /// The knob at a value (`q` 50, `d` 1.5, `qp` 32).
    Knob { knob: String, value: f64 },
    /// The knob bisected per image to meet this many bits per pixel.
    TargetBpp(f64),
    /// The single setting of a lossless codec.
    Lossless,
}

impl Setting {
    /// The label used in cache paths and results (`q50`, `d1.5`, `bpp0.5`, `lossless`).
    pub fn label(&self) -> String {
        match self {
            Setting::Knob { knob, value } => format!("{knob}{}", format_value(*value)),
            Setting::TargetBpp(b) => format!("bpp{}", format_value(*b)),
            Setting::Lossless => "lossless".into(),
        }
    }

    /// The knob's name (`bpp` for targets, empty for lossless).
    pub fn knob(&self) -> &str {
        match self {
            Setting::Knob { knob, .. } => knob,
            Setting::TargetBpp(_) => "bpp",
            Setting::Lossless => "",
        }
    }

    /// The value (the target for targets, 0 for lossless).
    pub fn value(&self) -> f64 {
        match self {
            Setting::Knob { value, .. } | Setting::TargetBpp(value) => *value,
            Setting::Lossless => 0.0,
        }
    }
}

/// Ladders asked for on the command line: one for every lossy codec, and/or one per codec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LadderSpec {
    /// Applies to every lossy codec without its own.
    pub all: Option<Vec<f64>>,
    /// Per codec name.
    pub per_codec: BTreeMap<String, Vec<f64>>,
}

impl LadderSpec {
    /// Parses `10,30,50` (every lossy codec), `cjpeg=10,50;x265=30,35` (per codec), or both
    /// (`10,50;x265=30,35`). A value list may use `START:STOP:STEP` ranges (`10:90:20`).
    pub fn parse(text: &str) -> Result<LadderSpec> {
        let mut spec = LadderSpec::default();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            // The last `=`: a codec name may hold options (`rnn+variant=lstm-oneshot=2,4`).
            match part.rsplit_once('=') {
                Some((codec, list)) => {
                    let codec = codec.trim();
                    if codec.is_empty() {
                        return Err(Error::Invalid(format!("ladder '{part}' names no codec")));
                    }
                    if spec.per_codec.insert(codec.to_string(), parse_values(list)?).is_some() {
                        return Err(Error::Invalid(format!("two ladders for '{codec}'")));
                    }
                }
                None => {
                    if spec.all.replace(parse_values(part)?).is_some() {
                        return Err(Error::Invalid("two ladders for every codec".into()));
                    }
                }
            }
        }
        if spec.all.is_none() && spec.per_codec.is_empty() {
            return Err(Error::Invalid("empty ladder".into()));
        }
        Ok(spec)
    }

    /// The ladder asked for `codec`, if any: its own, that of the codec without options
    /// (`rnn` for `rnn+variant=lstm-oneshot`), or the one for every codec.
    pub fn for_codec(&self, codec: &str) -> Option<&[f64]> {
        let plain = codec.split('+').next().unwrap_or(codec);
        self.per_codec.get(codec).or_else(|| self.per_codec.get(plain)).or(self.all.as_ref()).map(Vec::as_slice)
    }
}

/// Parses a comma-separated list of numbers and `START:STOP:STEP` ranges.
pub fn parse_values(list: &str) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim) {
        let num = |s: &str| -> Result<f64> {
            let v: f64 = s.trim().parse().map_err(|_| Error::Invalid(format!("'{s}' is not a number")))?;
            if !v.is_finite() {
                return Err(Error::Invalid(format!("'{s}' is not a finite number")));
            }
            Ok(v)
        };
        let parts: Vec<&str> = item.split(':').collect();
        match parts.as_slice() {
            [v] => out.push(num(v)?),
            [a, b, s] => {
                let (a, b, s) = (num(a)?, num(b)?, num(s)?);
                if s <= 0.0 || b < a {
                    return Err(Error::Invalid(format!("range '{item}' needs START <= STOP and STEP > 0")));
                }
                let n = ((b - a) / s).floor() as usize + 1;
                if n > 1000 {
                    return Err(Error::Invalid(format!("range '{item}' has {n} values (at most 1000)")));
                }
                out.extend((0..n).map(|i| a + s * i as f64));
            }
            _ => return Err(Error::Invalid(format!("'{item}' is neither a number nor START:STOP:STEP"))),
        }
    }
    let mut seen = out.clone();
    seen.sort_by(f64::total_cmp);
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::Invalid(format!("ladder '{list}' repeats a value")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_ranges_and_per_codec_ladders() {
        assert_eq!(parse_values("10, 50,90").unwrap(), vec![10.0, 50.0, 90.0]);
        assert_eq!(parse_values("10:50:20").unwrap(), vec![10.0, 30.0, 50.0]);
        let s = LadderSpec::parse("20,40;x265=30,35; cjxl=1.5").unwrap();
        assert_eq!(s.for_codec("cjpeg"), Some(&[20.0, 40.0][..]));
        assert_eq!(s.for_codec("x265"), Some(&[30.0, 35.0][..]));
        assert_eq!(s.for_codec("cjxl"), Some(&[1.5][..]));
        assert_eq!(LadderSpec::parse("x265=30").unwrap().for_codec("cjpeg"), None);
        // A codec with options takes its own ladder, else the plain codec's.
        let s = LadderSpec::parse("rnn=2,4;rnn+variant=lstm-oneshot=1,8").unwrap();
        assert_eq!(s.for_codec("rnn+variant=lstm-oneshot"), Some(&[1.0, 8.0][..]));
        assert_eq!(s.for_codec("rnn+variant=gru-oneshot"), Some(&[2.0, 4.0][..]));
    }

    #[test]
    fn bad_ladders_are_errors() {
        for bad in ["", ";", "abc", "1,,2", "nan", "inf", "50:10:5", "1:2:0", "=3", "5,5", "1:2:3:4", "1;2", "a=1;a=2", "0:1e9:1"] {
            assert!(LadderSpec::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn labels_name_the_knob_and_value() {
        assert_eq!(Setting::Knob { knob: "d".into(), value: 1.5 }.label(), "d1.5");
        assert_eq!(Setting::Knob { knob: "qp".into(), value: 32.0 }.label(), "qp32");
        assert_eq!(Setting::TargetBpp(0.25).label(), "bpp0.25");
        assert_eq!(Setting::Lossless.label(), "lossless");
    }
}
