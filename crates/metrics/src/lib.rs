//! tessera-metrics
