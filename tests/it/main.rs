//! End-to-end tests of the `riverwatch` binary.

mod cli;
mod simulate;
