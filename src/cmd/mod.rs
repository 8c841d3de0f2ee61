//! One module per subcommand.

pub mod config;
pub mod decode;
pub mod detect;
pub mod eval;
pub mod replay;
pub mod simulate;
pub mod train;
pub mod tune;
pub mod window;
