//! Placeholder criterion bench, filled in by its owner.
fn main() {}
