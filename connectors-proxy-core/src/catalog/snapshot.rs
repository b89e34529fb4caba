//! Placeholder: replaced by the snapshot builder.
/// Placeholder.
#[derive(Debug, Default)]
pub struct Objects;
/// Placeholder.
#[derive(Debug, Default)]
pub struct Snapshot;
