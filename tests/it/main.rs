//! End-to-end tests of the `riverwatch` binary.

mod cli;
mod decode;
mod demo;
mod detect;
mod leads;
mod simulate;
mod verify;
