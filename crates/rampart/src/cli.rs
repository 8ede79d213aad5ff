//! The command line: `serve`, `migrate`, `config check`, `openapi`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::serve::{Server, open_store, shutdown_signal};

#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about = "Rampart: a self-hosted security-operations server.",
    long_about = "Rampart: a self-hosted security-operations server.\n\n\
        Scan what you own and catch who probes you. Configuration comes from an optional rampart.toml, \
        overlaid by RAMPART_* environment variables (a nested key a.b is RAMPART_A__B), then flags.\n\n\
        Start with `rampart serve`: it keeps its data in ./data (embedded SQLite) unless \
        RAMPART_DATABASE_URL points at PostgreSQL."
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// A TOML configuration file (default: ./rampart.toml when it exists).
    #[arg(long, global = true, env = "RAMPART_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: migrate the database, then serve the API until SIGINT or SIGTERM.
    Serve {
        /// The address to listen on, such as 0.0.0.0:8080 (overrides RAMPART_LISTEN).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Serve the API only; `rampart worker` processes run the jobs (PostgreSQL).
        #[arg(long)]
        no_workers: bool,
    },
    /// Run jobs (tool executions) without serving HTTP, until SIGINT or SIGTERM. Start any number
    /// against one PostgreSQL; each claims runs with a lease, so a killed worker's runs are re-run.
    Worker,
    /// Apply pending database migrations and exit (serve does this too).
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the OpenAPI 3.1 document of the API as JSON.
    Openapi,
    /// Run a tool from the command line, with no server: the targets given are its scope.
    Scan {
        #[command(subcommand)]
        command: ScanCommand,
    },
    /// Write an organisation's findings, or one run's, as a report: JSON, CSV, SARIF, HTML or PDF.
    Report(crate::report::ReportArgs),
    /// Manage users from the server's shell, such as the first admin.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ScanCommand {
    /// TCP connect port scan: open ports with their service, banner and severity.
    Tcp(crate::scan::tcp::TcpArgs),
    /// HTTP probe: status, title, redirects, technologies, security headers, cookies and findings.
    Http(crate::scan::http::HttpArgs),
    /// TLS inspection: certificates, trust, host names and the TLS versions accepted, with findings.
    Tls(crate::scan::tls::TlsArgs),
    /// DNS lookup: records, subdomains, and missing CAA, weak SPF and DMARC, dangling CNAMEs, open zone transfers.
    Dns(crate::scan::dns::DnsArgs),
    /// WHOIS and RDAP: registrar, dates, name servers and status, and domains about to expire or unlocked.
    Whois(crate::scan::whois::WhoisArgs),
    /// Secret scan: a local git repository's whole history against gitleaks-format rules, each secret redacted.
    Secrets(crate::scan::secrets::SecretsArgs),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user with a personal organisation. The password is read from the terminal, or from
    /// one line of standard input when piped — never from the command line.
    Create {
        #[arg(long)]
        email: String,
        /// Defaults to the part of the email before the @.
        #[arg(long)]
        username: Option<String>,
        /// Make the user a superuser, who manages every user of the server.
        #[arg(long)]
        superuser: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it with secrets redacted; exits non-zero when invalid.
    Check,
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        let file = self.global.config.as_deref();
        match self.command {
            Command::Worker => {
                let config = Config::load(file, &Overrides::default())?;
                crate::logging::init(&config);
                let worker = crate::worker::WorkerProcess::build(&config).await?;
                worker.run(shutdown_signal()).await;
            }
            Command::Serve { listen, no_workers } => {
                let config = Config::load(file, &Overrides { listen })?;
                crate::logging::init(&config);
                let mut server = Server::build(&config).await?;
                if no_workers {
                    server = server.without_workers();
                }
                let addr = server.local_addr().context("reading the listening address")?;
                tracing::info!(
                    %addr,
                    database = config.database_location().backend().as_str(),
                    version = env!("CARGO_PKG_VERSION"),
                    "Rampart is listening on http://{addr} (API docs at http://{addr}/docs)"
                );
                server.run(shutdown_signal()).await;
                tracing::info!("stopped");
            }
            Command::Migrate => {
                let config = Config::load(file, &Overrides::default())?;
                crate::logging::init(&config);
                let store = open_store(&config).await?;
                store.close().await;
                println!("the {} database is up to date", store.backend().as_str());
            }
            Command::Config { command: ConfigCommand::Check } => {
                let config = Config::load(file, &Overrides::default())?;
                println!("# the configuration is valid; secrets are redacted\n{}", config.to_redacted_toml());
            }
            Command::User { command: UserCommand::Create { email, username, superuser } } => {
                let config = Config::load(file, &Overrides::default())?;
                crate::logging::init(&config);
                let password = crate::bootstrap::read_password()?;
                let store = open_store(&config).await?;
                let (identity, _) = crate::services::identity(&config, store.clone()).await?;
                let username = username.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
                crate::bootstrap::create_user(&identity, &email, &username, &password, superuser).await?;
                store.close().await;
                println!("created {}{email}", if superuser { "superuser " } else { "" });
            }
            Command::Scan { command: ScanCommand::Tcp(args) } => {
                let config = Config::load(file, &Overrides::default())?;
                crate::scan::tcp::run(&config, args).await?;
            }
            Command::Scan { command: ScanCommand::Http(args) } => {
                let config = Config::load(file, &Overrides::default())?;
                crate::scan::http::run(&config, args).await?;
            }
            Command::Scan { command: ScanCommand::Tls(args) } => {
                let config = Config::load(file, &Overrides::default())?;
                crate::scan::tls::run(&config, args).await?;
            }
            Command::Scan { command: ScanCommand::Dns(args) } => {
                let config = Config::load(file, &Overrides::default())?;
                crate::scan::dns::run(&config, args).await?;
            }
            Command::Scan { command: ScanCommand::Whois(args) } => {
                let config = Config::load(file, &Overrides::default())?;
                crate::scan::whois::run(&config, args).await?;
            }
            Command::Scan { command: ScanCommand::Secrets(args) } => {
                let config = Config::load(file, &Overrides::default())?;
                crate::scan::secrets::run(&config, args).await?;
            }
            Command::Report(args) => {
                let config = Config::load(file, &Overrides::default())?;
                crate::logging::init(&config);
                crate::report::run(&config, args).await?;
            }
            Command::Openapi => {
                let spec = rampart_api::openapi().to_pretty_json().context("serialising the OpenAPI document")?;
                println!("{spec}");
            }
        }
        Ok(())
    }
}
