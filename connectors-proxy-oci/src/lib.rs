//! OCI registry proxy built on `connectors-proxy-core`.
//!
//! The registry token flow and the `connectors-oci-proxy` binary live here; until they land
//! this crate only links the core library so the workspace layout is complete.

pub use connectors_proxy_core as core;
