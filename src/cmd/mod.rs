//! One module per subcommand.

pub mod config;
pub mod decode;
pub mod demo;
pub mod detect;
pub mod eval;
pub mod keys;
pub mod leads;
pub mod run;
pub mod simulate;
pub mod verify;
