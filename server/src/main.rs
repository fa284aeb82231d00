//! `chat-server`: reads its flags (and `--config` file), sets up logging, serves until Ctrl-C
//! or SIGTERM; SIGHUP reloads the file and the certificate.

use anyhow::Context as _;
use chat_server::config::{Loaded, Reloader};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::prelude::*;

fn main() -> std::process::ExitCode {
    // A wrong flag or config file: clap's message (naming the file) and status 2.
    let loaded = Loaded::from_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    if loaded.config.print_config {
        use std::io::Write as _;
        let printed = std::io::stdout().write_all(loaded.effective.to_toml().as_bytes());
        return match printed {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("chat-server: cannot print the settings: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let runtime = match runtime(loaded.config.worker_threads) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("chat-server: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(loaded)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line with the whole chain ("cannot open the history database: PATH: reason"),
            // not a backtrace: these are problems for the operator, not bugs.
            eprintln!("chat-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The runtime: `--worker-threads`, or one worker per CPU the process may use
/// (`available_parallelism` reads the affinity mask and the cgroup quota).
fn runtime(workers: Option<u16>) -> std::io::Result<tokio::runtime::Runtime> {
    let workers = workers
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()
}

/// Logs to stderr, at the level of `-v`, or as `RUST_LOG` says when it is set and readable.
///
/// A `RUST_LOG` of targets and levels is a [`Targets`] filter: an [`EnvFilter`] takes a lock
/// each time a span is entered and left, and each session's span is, at every wake-up. Only
/// directives that only `EnvFilter` reads (spans, fields) get one.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let targets = match std::env::var("RUST_LOG") {
        Err(_) => level.parse::<Targets>().ok(),
        Ok(directives) if only_targets_and_levels(&directives) => directives.parse().ok(),
        Ok(_) => None,
    };
    // Colours only on a terminal: a log file or journal gets plain text, with no escape
    // sequence of ours (and none of a client's: user-supplied values are logged with `?`,
    // which escapes control characters).
    use std::io::IsTerminal as _;
    let ansi = std::io::stderr().is_terminal();
    let registry = tracing_subscriber::registry();
    match targets {
        Some(targets) => registry.with(targets).with(log_lines(ansi)).init(),
        None => {
            let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
            registry.with(env).with(log_lines(ansi)).init();
        }
    }
}

/// Whether `RUST_LOG` is only `target=level`, `target` and `level` directives, each written
/// out, which a [`Targets`] filter reads as an [`EnvFilter`] does. Anything else (spans or
/// fields in brackets, an empty directive, target or level, spaces) goes to an `EnvFilter`,
/// which reads those its own way.
fn only_targets_and_levels(directives: &str) -> bool {
    !directives.is_empty()
        && !directives.contains(|c: char| c == '[' || c.is_whitespace())
        && directives.split(',').all(|directive| match directive.split_once('=') {
            Some((target, level)) => !target.is_empty() && !level.is_empty(),
            None => !directive.is_empty(),
        })
}

/// The log lines' format and destination, whichever filter is in front of them.
fn log_lines<S>(ansi: bool) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer().with_ansi(ansi).with_writer(std::io::stderr)
}

async fn serve(loaded: Loaded) -> anyhow::Result<()> {
    let config = loaded.config.clone();
    init_logging(config.verbose);
    chat_server::log_address::show(config.logs.log_addresses);
    if let (true, Some(file)) = (loaded.secret_open_to_others, &config.config) {
        let shown = file.display();
        tracing::warn!(
            "the config file {shown} gives the Redis URL and others than its owner can read \
             it: chmod 600 {shown}"
        );
    }

    // Before anything else is touched: a certificate that cannot be used stops the server
    // here, with the path and the reason.
    let tls = match config.tls()? {
        Some(files) => Some(std::sync::Arc::new(chat_server::tls::Tls::load(files)?)),
        None => None,
    };
    if let Some(warning) = config.clear_text_warning(tls.is_some()) {
        tracing::warn!("{warning}");
    }
    // Before the broker, which counts from its first batch; the recorder is the process's.
    if let Some(listen) = config.metrics_listen {
        chat_server::metrics::install(listen)?;
    }
    // After the logger: reading the Redis URL may warn (a URL file others can read).
    let broker = match config.cluster()? {
        Some(cluster) => {
            // Redis first: a node that cannot reach it (or whose id is taken) stops here.
            let history = chat_server::HistoryConfig {
                location: None,
                keep: config.history_keep,
                on_join: config.history_on_join,
                max_bytes: None,
                max_age: config.retention.history_max_age,
            };
            let node = cluster.node.clone();
            let broker = chat_server::Broker::redis(cluster, history).await?;
            tracing::info!(%node, "history in Redis, shared by the nodes");
            broker
        }
        None => {
            let history = config.history()?;
            // Open the database before taking the ports: a database that cannot be used
            // stops the server here, with the path and the reason, and touches nothing.
            let broker = chat_server::Broker::local(history.clone())
                .context("cannot open the history database")?;
            match &history.location {
                Some(chat_server::broker::Location::File(path)) => {
                    tracing::info!(path = %path.display(), "history database")
                }
                Some(chat_server::broker::Location::Memory) => {
                    tracing::info!("history in memory only")
                }
                None => tracing::info!("history off"),
            }
            broker
        }
    };
    let mut listeners = chat_server::Listeners::bind(config.listen, config.plain_addr())
        .await?
        .with_trusted_proxies(config.trusted_proxies());
    if let Some(tls) = &tls {
        listeners = listeners.with_tls(tls.clone());
    }
    // Caught from before the "listening" line: from then on a SIGHUP reloads, never kills.
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    let json = listeners.json_addr()?;
    match listeners.plain_addr() {
        Some(plain) => println!("chat-server listening: json={json} plain={plain}"),
        None => println!("chat-server listening: json={json}"),
    }
    if let Some(tls) = &tls {
        println!("chat-server tls: certificate SHA-256 {}", tls.fingerprint());
    }
    if let Some(listen) = config.metrics_listen {
        println!("chat-server metrics: http://{listen}/metrics");
    }
    let settings = chat_server::Settings::new(config.server_info());
    let reloader = Reloader::new(loaded, settings.clone());
    tokio::spawn(reload_on_sighup(hangups, tls.clone(), reloader));
    chat_server::run(listeners, settings, broker, shutdown_signal()).await;
    Ok(())
}

/// SIGHUP reads the config file again (`config::reload`: what may change is in force for new
/// connections) and the certificate and key; a file that cannot be used leaves what is in
/// force, and the log says why. With neither there is nothing to reload, and SIGHUP is still
/// caught: `systemctl reload` must not stop the server.
async fn reload_on_sighup(
    hangups: std::io::Result<tokio::signal::unix::Signal>,
    tls: Option<std::sync::Arc<chat_server::tls::Tls>>,
    mut reloader: Option<Reloader>,
) {
    let mut hangups = match hangups {
        Ok(signal) => signal,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP: nothing can be reloaded");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        if let Some(reloader) = &mut reloader {
            reloader.reload();
        }
        match &tls {
            Some(tls) => {
                if let Err(e) = tls.reload() {
                    tracing::error!("SIGHUP: the certificate in force stays: {e}");
                }
            }
            None if reloader.is_none() => {
                tracing::info!("SIGHUP: nothing to reload (no --config file, no TLS certificate)")
            }
            None => {}
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
