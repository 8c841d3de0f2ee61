//! One module per subcommand.

pub mod config;
pub mod decode;
pub mod detect;
