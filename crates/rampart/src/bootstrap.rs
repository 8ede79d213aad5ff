//! The first admin: created from `bootstrap_admin_email`/`_password` on a first start, or by
//! `rampart user create`. While no user exists, `serve` says how to make one.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use rampart_core::identity::NewUser;
use rampart_identity::Identity;
use rampart_store::Store;

use crate::config::Config;

/// Creates the configured first admin when the server has no user yet.
pub async fn first_admin(config: &Config, identity: &Identity, store: &dyn Store) -> anyhow::Result<()> {
    if store.users().count().await.context("counting users")? > 0 {
        return Ok(());
    }
    match (&config.bootstrap_admin_email, &config.bootstrap_admin_password) {
        (Some(email), Some(password)) => {
            let username = email.split('@').next().unwrap_or("admin");
            create_user(identity, email, username, password, true).await?;
            tracing::info!("created the first admin from RAMPART_BOOTSTRAP_ADMIN_EMAIL");
        }
        _ => tracing::warn!(
            "no user exists yet: create the first admin with `rampart user create --email you@example.com --superuser`, \
             or set RAMPART_BOOTSTRAP_ADMIN_EMAIL and RAMPART_BOOTSTRAP_ADMIN_PASSWORD"
        ),
    }
    Ok(())
}

/// Creates a user with their personal organisation, and makes them a superuser if asked.
pub async fn create_user(
    identity: &Identity,
    email: &str,
    username: &str,
    password: &str,
    superuser: bool,
) -> anyhow::Result<()> {
    let mut new = NewUser::parse(email, username, "", password).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    new.is_superuser = superuser;
    identity.create_account(&new, password, None).await.map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(())
}

/// Reads a password from the terminal (twice, to catch typos) or, when piped, one line of stdin.
/// Never from the command line, where other users of the machine could read it.
pub fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let read_line = |prompt: &str| -> anyhow::Result<String> {
        if stdin.is_terminal() {
            eprint!("{prompt}");
            std::io::stderr().flush()?;
        }
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("reading the password")?;
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    };
    let password = read_line("Password: ")?;
    if stdin.is_terminal() && read_line("Again: ")? != password {
        bail!("the passwords differ");
    }
    if password.is_empty() {
        bail!("no password given on standard input");
    }
    Ok(password)
}
