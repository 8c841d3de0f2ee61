//! One module per subcommand.

pub mod bench;
pub mod bench_forward;
pub mod config;
pub mod decode;
pub mod demo;
pub mod detect;
pub mod eval;
pub mod keys;
pub mod leads;
pub mod replay;
pub mod run;
pub mod simulate;
pub mod store_load;
pub mod train;
pub mod tune;
pub mod verify;
pub mod window;
