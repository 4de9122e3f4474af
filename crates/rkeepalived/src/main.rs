//! The rkeepalived binary (being written).
fn main() {}
