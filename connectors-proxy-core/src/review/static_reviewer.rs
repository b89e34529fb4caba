//! Placeholder.
/// Placeholder.
#[derive(Debug)]
pub struct StaticReviewer;
