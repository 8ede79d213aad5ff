//! Logging: pretty or JSON lines on stdout, filtered by `log_level`. Panics are logged as one
//! event with their location instead of the default hook's output, and no backtrace is printed.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Config, LogFormat};

/// Logs to stdout.
pub fn init(config: &Config) {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    init_with_writer(config, std::io::stdout, ansi);
}

/// Logs to `writer`; tests use it to read what the server logs.
pub fn init_with_writer<W>(config: &Config, writer: W, ansi: bool)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter: Targets = config.log_level.parse().expect("validated when the configuration was loaded");
    let registry = tracing_subscriber::registry().with(filter);
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    let result = match config.log_format {
        LogFormat::Json => registry.with(layer.json().flatten_event(true)).try_init(),
        LogFormat::Pretty => registry.with(layer.with_ansi(ansi)).try_init(),
    };
    // Already initialised (several commands in one test process): keep the first.
    drop(result);

    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(location, "a task panicked; the request it served was answered with 500");
    }));
}
