//! Placeholder.
/// Placeholder.
#[derive(Debug)]
pub struct CachedReviewer;
/// Placeholder.
#[derive(Debug)]
pub struct CacheSettings;
