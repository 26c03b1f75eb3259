//! tessera-lab
