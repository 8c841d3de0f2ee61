//! `riverwatch keys show|generate`: the ledger's signing key. The secret is the 32-byte seed
//! in RIVERWATCH_SIGNING_KEY (hex or base64), never a file; `show` prints only its public
//! half, `generate` prints a fresh seed for the operator to put in their secret store.

use anyhow::{bail, Context as _, Result};
use riverwatch_live::seal::{hex, Signer, ENV_SIGNING_KEY};
use std::io::Read as _;
use std::process::ExitCode;

/// Arguments of `keys`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Print the public key of RIVERWATCH_SIGNING_KEY (hex, then PEM).
    Show,
    /// Print a new random seed (hex) for RIVERWATCH_SIGNING_KEY; its public key goes to stderr.
    Generate,
}

/// Runs `keys`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.action {
        Action::Show => {
            let Some(signer) = Signer::from_env()? else {
                bail!("{ENV_SIGNING_KEY} is not set: ledger entries are not signed (`riverwatch keys generate` makes a key)");
            };
            let pk = signer.public_key();
            println!("{pk}");
            print!("{}", pk.pem());
        }
        Action::Generate => {
            let mut seed = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut seed))
                .context("reading /dev/urandom")?;
            let signer = Signer::from_seed(seed);
            println!("{}", hex(&seed));
            eprintln!(
                "public key {} (export {ENV_SIGNING_KEY}=<the line above>)",
                signer.public_key()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
