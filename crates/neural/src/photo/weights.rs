//! Shipped photo models: one safetensors file per model and quality (weights in f16), with the
//! model's shape and its integer coding tables in the file's metadata, so that the file alone
//! defines the codec and its SHA-256 names it in every container.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::store::{bridge, FloatCastAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::{DType, Device, TensorData};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_core::{hex, Error, ModelTag, Result};

use super::context::ContextModel;
use super::model::{Config, Kind, PhotoModel};
use crate::layers::density::ChannelTable;
use crate::layers::gaussian::SCALE_MIN;
use crate::rng::Rng;

/// Precision of the stored coding tables.
pub const TABLE_BITS: u32 = 16;
/// Metadata key holding [`Meta`] as JSON.
const META_KEY: &str = "tessera";
/// Largest safetensors header accepted.
const MAX_HEADER: u64 = 16 << 20;

/// What a model file says about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub kind: String,
    pub n: usize,
    pub m: usize,
    pub lambda: f64,
    /// Training steps and seconds behind these weights.
    pub step: u64,
    pub seconds: f64,
    /// Coding tables of the factorised density: of `y` (factorised model) or of `z` (hyperprior;
    /// a checkerboard model's file leaves them to its base).
    pub tables: Vec<ChannelTable>,
    /// The shipped model a checkerboard model's context was trained on, whose transforms and
    /// hyperprior it uses (the file holds the context model alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Base>,
}

/// The model file a context model builds on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Base {
    /// Its name (`hyperprior-q3`), looked for as every model is ([`find`]).
    pub name: String,
    /// SHA-256 of its bytes (hex): the context fits those weights only.
    pub sha256: String,
}

impl Meta {
    /// The model shape.
    pub fn config(&self) -> Result<Config> {
        let kind = Kind::from_name(&self.kind)
            .ok_or_else(|| Error::corrupt("model file of an unknown kind"))?;
        Ok(Config {
            kind,
            n: self.n,
            m: self.m,
        })
    }
}

/// A loaded model file.
pub struct ModelFile {
    pub tag: ModelTag,
    pub meta: Meta,
    pub model: PhotoModel,
}

/// Serialises a trained model with its metadata (weights cast to f16).
pub fn export<M: ModuleSnapshot, T: Serialize>(model: &M, meta: &T) -> Result<Vec<u8>> {
    let json = serde_json::to_string(meta).map_err(|e| Error::InvalidParam(e.to_string()))?;
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(FloatCastAdapter::to(DType::F16))
        .metadata(META_KEY, json);
    model
        .save_into(&mut store)
        .map_err(|e| Error::InvalidParam(format!("saving weights: {e}")))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| Error::InvalidParam(format!("saving weights: {e}")))?;
    sorted_header(&bytes)
}

/// The file with its header's keys in sorted order. The store keeps the metadata in a hash
/// map, so two exports of the same weights would otherwise differ in their bytes, and so in
/// the model tag that containers name.
fn sorted_header(bytes: &[u8]) -> Result<Vec<u8>> {
    let bad = || Error::InvalidParam("saving weights: the store wrote a bad header".into());
    let len = bytes.get(..8).ok_or_else(bad)?;
    let len = u64::from_le_bytes(len.try_into().map_err(|_| bad())?) as usize;
    let header = bytes.get(8..8 + len).ok_or_else(bad)?;
    let header: serde_json::Value = serde_json::from_slice(header).map_err(|_| bad())?;
    let mut json = serde_json::to_vec(&header).map_err(|_| bad())?;
    // Safetensors pads the header with spaces so the data starts 8-byte aligned.
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + len..]);
    Ok(out)
}

/// Reads the metadata of a model file, checking the header before trusting it.
pub fn read_meta<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let len = bytes
        .get(..8)
        .ok_or(Error::corrupt("model file too short"))?;
    let len = u64::from_le_bytes(len.try_into().map_err(|_| Error::corrupt("model file"))?);
    if len > MAX_HEADER || len > bytes.len() as u64 - 8 {
        return Err(Error::corrupt("model file header length"));
    }
    #[derive(Deserialize)]
    struct Header {
        #[serde(rename = "__metadata__")]
        metadata: BTreeMap<String, String>,
    }
    let header: Header = serde_json::from_slice(&bytes[8..8 + len as usize])
        .map_err(|_| Error::corrupt("model file header"))?;
    let json = header
        .metadata
        .get(META_KEY)
        .ok_or(Error::corrupt("model file without Tessera metadata"))?;
    serde_json::from_str(json).map_err(|_| Error::corrupt("model file metadata"))
}

/// Loads a model file's weights into an inference model on `device`; a checkerboard model's
/// file with those of its base.
pub fn load(name: &str, bytes: &[u8], device: &Device) -> Result<ModelFile> {
    let mut meta: Meta = read_meta(bytes)?;
    let config = meta.config()?;
    let model = match (&meta.base, config.kind) {
        (None, Kind::Factorized | Kind::Hyperprior) => {
            let mut model = PhotoModel::new(config, &mut Rng::new(0), device);
            apply(&mut model, name, bytes)?;
            model
        }
        (Some(base), Kind::Checkerboard) => {
            let base_bytes = find(&base.name)?;
            if hex(&Sha256::digest(&base_bytes)) != base.sha256 {
                return Err(Error::InvalidParam(format!(
                    "model {name} was trained on other weights of {} than those found",
                    base.name
                )));
            }
            let base_file = load(&base.name, &base_bytes, device)?;
            let theirs = base_file.meta.config()?;
            if (theirs.kind, theirs.n, theirs.m) != (Kind::Hyperprior, config.n, config.m) {
                return Err(Error::InvalidParam(format!(
                    "model {name} needs a hyperprior with N = {}, M = {} as its base",
                    config.n, config.m
                )));
            }
            let mut context = ContextModel::new(config.m, device);
            apply(&mut context, name, bytes)?;
            meta.tables = base_file.meta.tables;
            meta.lambda = base_file.meta.lambda;
            let mut model = base_file.model;
            model.context = Some(context);
            model
        }
        _ => return Err(Error::corrupt("model file of a kind that does not fit its base")),
    };
    Ok(ModelFile {
        tag: tag(name, bytes),
        meta,
        model,
    })
}

/// The store of a model file's weights, read as f32.
fn store(bytes: &[u8]) -> SafetensorsStore {
    SafetensorsStore::from_bytes(Some(bytes.to_vec()))
        .with_from_adapter(FloatCastAdapter::to(DType::F32))
}

/// Loads a model file's weights into `model`, which must have exactly their shapes.
pub fn apply<M: ModuleSnapshot>(model: &mut M, name: &str, bytes: &[u8]) -> Result<()> {
    let applied = model
        .load_from(&mut store(bytes))
        .map_err(|e| Error::InvalidParam(format!("model {name}: {e}")))?;
    if !applied.errors.is_empty() || !applied.missing.is_empty() {
        return Err(Error::InvalidParam(format!(
            "model {name} does not fit its declared shape"
        )));
    }
    Ok(())
}

/// Whether a tensor path is in the transforms (`g_a`, `g_s`) rather than the entropy model.
fn in_transforms(path: &str, _container: &str) -> bool {
    path.starts_with("analysis.") || path.starts_with("synthesis.")
}

/// Loads only the transforms of a model file into `model`, which must have their shapes; its
/// entropy model is left as it is. A model of one kind starts from the transforms of the other
/// this way.
pub fn apply_transforms(model: &mut PhotoModel, name: &str, bytes: &[u8]) -> Result<()> {
    let mut store = store(bytes).with_predicate(in_transforms).allow_partial(true);
    let applied = model
        .load_from(&mut store)
        .map_err(|e| Error::InvalidParam(format!("model {name}: {e}")))?;
    // The store counts the entropy model, which the filter leaves out, as missing.
    let transforms_missing = applied.missing.iter().any(|(path, c)| in_transforms(path, c));
    if applied.applied.is_empty() || !applied.errors.is_empty() || transforms_missing {
        return Err(Error::InvalidParam(format!(
            "the transforms of model {name} do not fit this model's shape"
        )));
    }
    Ok(())
}

/// Copies `narrow`, a model with fewer channels in its transforms (`N`) or fewer latents (`M`)
/// than `model`, into `model` so that it computes what `narrow` computes: each of its tensors
/// fills the matching block of the wider one, a convolution weight from a new channel into an
/// old one is zero, and everything else keeps `model`'s fresh initialisation (in GDN that is
/// γ = 0 between different channels). New transform channels start with outputs that nothing
/// reads; training brings them in. Channels that would cost bits start silent instead: the
/// new side-information channels (`z` has `N`) and the new latents are zero, and the new
/// latents' means are zero and their scales just above the floor, so they cost nothing. The
/// synthesis reads the new latents through small random weights, not zero ones: with both
/// ends of a new latent at zero no gradient would ever reach either.
pub fn widen(model: &mut PhotoModel, narrow: &PhotoModel) -> Result<()> {
    let bad = |e: String| Error::InvalidParam(format!("widening a model: {e}"));
    let ((n, m), (their_n, their_m)) = (model.channels(), narrow.channels());
    if n < their_n || m < their_m {
        let shapes = format!("N = {their_n}, M = {their_m} does not widen to N = {n}, M = {m}");
        return Err(bad(shapes));
    }
    let mut old = BTreeMap::new();
    for t in narrow.collect(None, None, false) {
        let data = bridge::to_data(&t).map_err(|e| bad(e.to_string()))?;
        old.insert(t.name, data);
    }
    // The last layer of the hyper-analysis, which makes `z`.
    let z_layer = model.hyper.as_ref().map(|h| format!("hyper.ha.{}.", h.ha.len() - 1));
    let y_layer = format!("analysis.convs.{}.", model.analysis.convs.len() - 1);
    let mut tensors = Vec::new();
    for t in model.collect(None, None, false) {
        let fresh = bridge::to_data(&t).map_err(|e| bad(e.to_string()))?;
        let theirs = old
            .get(&t.name)
            .ok_or_else(|| bad(format!("no tensor {}", t.name)))?;
        let name = t.name.as_str();
        let mut rules = Rules::default();
        let makes_z = z_layer.as_ref().is_some_and(|z| name.starts_with(z.as_str()));
        if makes_z || name.starts_with(&y_layer) {
            rules.silent = true;
        } else if name.starts_with("synthesis.deconvs.0.") {
            rules.new_into_old = 0.01;
        } else if name.starts_with("hyper.hs_out.") {
            // Means in the first M outputs, scales in the next M: an old scale moves up by the
            // number of new latents, and a new latent's scale starts just above the floor.
            rules.silent = true;
            rules.outputs = Some((their_m, m));
        }
        let data = embed(name, &fresh, theirs, &rules).map_err(bad)?;
        tensors.push(bridge::from_data(data, t.name, t.param_id));
    }
    let applied = model.apply(tensors, None, None, false);
    if !applied.errors.is_empty() || !applied.missing.is_empty() {
        return Err(bad("the wider model did not take the tensors".into()));
    }
    Ok(())
}

/// How [`embed`] starts the new entries of one tensor.
#[derive(Default)]
struct Rules {
    /// New output channels start at zero (a new scale at [`NEW_SCALE`]) rather than fresh.
    silent: bool,
    /// The factor on a fresh weight from a new input channel into an old output channel.
    new_into_old: f32,
    /// The outputs are two halves of (old, new) channels each: means, then scales.
    outputs: Option<(usize, usize)>,
}

/// The bias a new scale output starts with: just above [`SCALE_MIN`], where the gradient of the
/// clamp passes, and small enough that a zero latent costs nothing.
const NEW_SCALE: f32 = SCALE_MIN * 1.1;

/// `fresh` with `old` in its matching block (see [`Rules`]); in a convolution's weight
/// (`[out, in, k, k]`, transposed `[in, out, k, k]`) the entries from a new input channel into
/// an old output channel are `rules.new_into_old` times fresh ones.
fn embed(
    name: &str,
    fresh: &TensorData,
    old: &TensorData,
    rules: &Rules,
) -> std::result::Result<TensorData, String> {
    let (shape, old_shape) = (fresh.shape().to_vec(), old.shape().to_vec());
    if shape.len() != old_shape.len() || shape.iter().zip(&old_shape).any(|(n, o)| o > n) {
        return Err(format!("{name}: {old_shape:?} does not fit in {shape:?}"));
    }
    let mut out: Vec<f32> = fresh.try_to_vec().map_err(|e| format!("{name}: {e:?}"))?;
    let theirs: Vec<f32> = old.try_to_vec().map_err(|e| format!("{name}: {e:?}"))?;
    let output = if name.contains("deconvs.") { 1 } else { 0 };
    let is_conv_weight = shape.len() == 4 && name.ends_with(".weight");
    // The output channel axis (a bias has only that one).
    let out_axis = if is_conv_weight { output } else { 0 };
    // The old channel each new one along `axis` holds, if any.
    let source = |axis: usize, i: usize| match rules.outputs {
        Some((old_m, m)) if axis == out_axis => match i {
            _ if i < old_m => Some(i),
            _ if (m..m + old_m).contains(&i) => Some(i - m + old_m),
            _ => None,
        },
        _ => (i < old_shape[axis]).then_some(i),
    };
    let mut index = vec![0usize; shape.len()];
    for (flat, value) in out.iter_mut().enumerate() {
        let mut rest = flat;
        for d in (0..shape.len()).rev() {
            index[d] = rest % shape[d];
            rest /= shape[d];
        }
        // The flat index of the old entry, if every axis has one.
        let (mut at, mut whole, mut new_out) = (0, true, false);
        for d in 0..shape.len() {
            match source(d, index[d]) {
                Some(i) => at = at * old_shape[d] + i,
                None => (whole, new_out) = (false, new_out || d == out_axis),
            }
        }
        if whole {
            *value = theirs[at];
        } else if is_conv_weight && !new_out {
            *value *= rules.new_into_old;
        } else if rules.silent {
            // The scales are the second half of two-halved outputs.
            let scale = rules.outputs.is_some_and(|(_, m)| index[out_axis] >= m);
            *value = if scale && !is_conv_weight { NEW_SCALE } else { 0.0 };
        }
    }
    Ok(TensorData::new(out, shape))
}

/// The container tag of model file `bytes` called `name`.
pub fn tag(name: &str, bytes: &[u8]) -> ModelTag {
    ModelTag {
        name: name.to_string(),
        hash: Sha256::digest(bytes).into(),
    }
}

/// The folders searched for model files: `$TESSERA_MODELS`, the repository's `models/` this
/// binary was built from, and `./models`.
pub fn model_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("TESSERA_MODELS") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"));
    dirs.push(PathBuf::from("models"));
    dirs
}

/// The bytes of model `name` (`hyperprior-q3`, say) from the first folder that has it.
pub fn find(name: &str) -> Result<Vec<u8>> {
    for d in model_dirs() {
        let p = d.join(format!("{name}.safetensors"));
        if let Ok(bytes) = std::fs::read(&p) {
            return Ok(bytes);
        }
    }
    Err(Error::Unsupported(format!(
        "no weights for model '{name}' (looked for {name}.safetensors in {}); train it with `tessera train photo` or set TESSERA_MODELS",
        model_dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    )))
}

/// Model `name` from [`find`], loaded on `device`; loaded models are kept (keyed by name and
/// file hash, so a replaced file is loaded afresh).
pub fn load_cached(name: &str, device: &Device) -> Result<std::sync::Arc<ModelFile>> {
    cached(name, |bytes| load(name, bytes, device))
}

/// The value `make` builds from model file `name`, kept per name and file hash.
pub fn cached<T: Send + Sync + 'static>(
    name: &str,
    make: impl FnOnce(&[u8]) -> Result<T>,
) -> Result<std::sync::Arc<T>> {
    use std::any::Any;
    use std::sync::{Arc, Mutex, OnceLock};
    type Cache = Mutex<BTreeMap<(String, [u8; 32]), Arc<dyn Any + Send + Sync>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let bytes = find(name)?;
    let key = (name.to_string(), tag(name, &bytes).hash);
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Some(m) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        if let Ok(t) = m.downcast::<T>() {
            return Ok(t);
        }
    }
    let value = Arc::new(make(&bytes)?);
    if let Ok(mut c) = cache.lock() {
        c.insert(key, value.clone());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exporting_the_same_weights_gives_the_same_bytes() {
        let config = Config {
            kind: Kind::Hyperprior,
            n: 4,
            m: 4,
        };
        let dev = crate::photo::codec::device();
        let model = PhotoModel::new(config, &mut Rng::new(1), &dev);
        let meta = serde_json::json!({"step": 3});
        let first = export(&model, &meta).unwrap();
        for _ in 0..8 {
            assert_eq!(export(&model, &meta).unwrap(), first);
        }
        let len = u64::from_le_bytes(first[..8].try_into().unwrap());
        assert_eq!(len % 8, 0);
        assert_eq!(read_meta::<serde_json::Value>(&first).unwrap(), meta);
        let mut other = PhotoModel::new(config, &mut Rng::new(2), &dev);
        apply(&mut other, "test", &first).unwrap();
        assert_eq!(export(&other, &meta).unwrap(), first);
    }

    #[test]
    fn a_widened_model_computes_what_the_narrow_one_did() {
        use burn::tensor::Tensor;
        let dev = crate::photo::codec::device();
        let narrow_config = Config {
            kind: Kind::Hyperprior,
            n: 4,
            m: 5,
        };
        let narrow = PhotoModel::new(narrow_config, &mut Rng::new(1), &dev);
        let wide_config = Config { n: 7, m: 8, ..narrow_config };
        let mut wide = PhotoModel::new(wide_config, &mut Rng::new(2), &dev);
        widen(&mut wide, &narrow).unwrap();

        let mut rng = Rng::new(9);
        let pixels: Vec<f32> = (0..3 * 64 * 64).map(|_| rng.uniform()).collect();
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [1, 3, 64, 64]), &dev);
        let values = |t: Tensor<4>| -> Vec<f32> { t.into_data().try_into_vec().unwrap() };
        let close = |a: Tensor<4>, b: Tensor<4>, what: &str| {
            let (a, b) = (values(a), values(b));
            assert_eq!(a.len(), b.len(), "{what}");
            let worst = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "{what} differs by {worst}");
        };
        // The first 5 of 8 channels of a [1, 8, ..] tensor, and the other 3.
        let split = |t: Tensor<4>| {
            let [b, c, h, w] = t.dims();
            (t.clone().slice([0..b, 0..5, 0..h, 0..w]), values(t.slice([0..b, 5..c, 0..h, 0..w])))
        };
        let y = narrow.analysis.forward(x.clone());
        let (y_old, y_new) = split(wide.analysis.forward(x.clone()));
        close(y.clone(), y_old, "the latents");
        assert!(y_new.iter().all(|&v| v == 0.0), "the new latents start at zero");
        let y_wide = Tensor::cat(vec![y.clone(), Tensor::zeros([1, 3, 4, 4], &dev)], 1);
        let x_narrow = narrow.synthesis.forward(y.clone());
        close(x_narrow, wide.synthesis.forward(y_wide.clone()), "the synthesis");
        let (h_narrow, h_wide) = (narrow.hyper.as_ref().unwrap(), wide.hyper.as_ref().unwrap());
        let (means, scales) = h_narrow.params_rounded(y.clone());
        let (wide_means, wide_scales) = h_wide.params_rounded(y_wide.clone());
        let ((wide_means, new_means), (wide_scales, new_scales)) =
            (split(wide_means), split(wide_scales));
        close(means, wide_means, "the means");
        close(scales, wide_scales, "the scales");
        assert!(new_means.iter().all(|&v| v == 0.0), "the new latents' means start at zero");
        assert!(new_scales.iter().all(|&v| v == NEW_SCALE), "their scales at the floor");
        let z = values(h_wide.analysis(y_wide));
        let per_channel = z.len() / 7;
        assert!(z[..4 * per_channel].iter().any(|&v| v != 0.0));
        let new_channels = &z[4 * per_channel..];
        assert!(new_channels.iter().all(|&v| v == 0.0), "the new side channels start at zero");

        // Never narrower, in either width.
        for (n, m) in [(3, 5), (7, 4)] {
            let other = Config { n, m, ..narrow_config };
            let mut other = PhotoModel::new(other, &mut Rng::new(2), &dev);
            assert!(widen(&mut other, &narrow).is_err(), "N = {n}, M = {m}");
        }
    }
}
