//! Placeholder: owned by a helper, filled in shortly.
