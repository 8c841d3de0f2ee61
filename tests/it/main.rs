//! End-to-end tests of the `riverwatch` binary.

mod bench;
mod cli;
mod crash;
mod decode;
mod demo;
mod detect;
mod leads;
mod ops;
mod ops_demo;
mod ops_docs;
mod replay_api;
mod replay_publish;
mod simulate;
mod verify;
mod web;
