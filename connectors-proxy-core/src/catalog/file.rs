//! Placeholder: replaced by the file catalog.
/// Placeholder.
#[derive(Debug)]
pub struct FileCatalog;
