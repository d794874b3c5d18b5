//! The one integration test binary: each module runs the real `quiesce` binary.

mod schema;
mod validate;
