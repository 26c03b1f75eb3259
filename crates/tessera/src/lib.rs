//! `tessera` is the facade of the Tessera toolkit: the registry of every codec by name,
//! and the compress/decompress paths the CLI and the lab share.

pub mod registry;

pub use tessera_classic as classic;
pub use tessera_core as core;
pub use tessera_entropy as entropy;
