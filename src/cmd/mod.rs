//! One module per subcommand.

pub mod config;
pub mod eval;
pub mod simulate;
