//! `chat-server`: parses flags, sets up logging, serves until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match serve(chat_server::Config::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line with the whole chain ("cannot open the history database: PATH: reason"),
            // not a backtrace: these are problems for the operator, not bugs.
            eprintln!("chat-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: chat_server::Config) -> anyhow::Result<()> {
    let level = match config.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Colours only on a terminal: a log file or journal gets plain text, with no escape
    // sequence of ours (and none of a client's: user-supplied values are logged with `?`,
    // which escapes control characters).
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    chat_server::log_address::show(config.logs.log_addresses);

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
    let json = listeners.json_addr()?;
    match listeners.plain_addr() {
        Some(plain) => println!("chat-server listening: json={json} plain={plain}"),
        None => println!("chat-server listening: json={json}"),
    }
    if let Some(tls) = &tls {
        println!("chat-server tls: certificate SHA-256 {}", tls.fingerprint());
    }
    tokio::spawn(reload_on_sighup(tls.clone()));
    if let Some(listen) = config.metrics_listen {
        println!("chat-server metrics: http://{listen}/metrics");
    }
    chat_server::run(listeners, config.server_info(), broker, shutdown_signal()).await;
    Ok(())
}

/// SIGHUP reads the certificate and key again; a file that cannot be used leaves the one in
/// force, and the log says why. Without TLS there is nothing to reload, and SIGHUP is still
/// caught: `systemctl reload` must not stop the server.
async fn reload_on_sighup(tls: Option<std::sync::Arc<chat_server::tls::Tls>>) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => signal,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP: the certificate cannot be reloaded");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        match &tls {
            Some(tls) => {
                if let Err(e) = tls.reload() {
                    tracing::error!("SIGHUP: the certificate in force stays: {e}");
                }
            }
            None => tracing::info!("SIGHUP: nothing to reload (no TLS certificate)"),
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
