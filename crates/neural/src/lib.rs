//! `tessera-neural` provides the learned codecs.

use tessera_core::Codec;

/// Every learned codec, in the order `tessera codecs` lists them.
pub fn codecs() -> Vec<Box<dyn Codec>> {
    vec![]
}
