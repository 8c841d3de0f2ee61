//! End-to-end tests of the `riverwatch` binary.

mod cli;
mod decode;
mod detect;
mod simulate;
mod ops;
mod ops_docs;
mod ops_demo;
