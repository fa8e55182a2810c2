//! `invigil serve` and `invigil proctor`: the backend from the command line.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use invigil_server::{Config, Server};

use crate::args::{DatabaseArgs, ProctorAddArgs, ProctorRemoveArgs, ServeArgs};

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn config(db: &DatabaseArgs, listen: std::net::SocketAddr) -> Config {
    let mut config = Config::new(&db.data, listen);
    config.database_url = db.database.clone();
    config.media = db.media.clone();
    config.s3 = db.s3_options();
    config
}

pub fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = config(&args.db, args.listen);
    config.max_body_bytes = args.max_body_bytes;
    config.max_media_bytes = args.max_media_bytes;
    config.retention_days = args.retention_days;
    config.behind_proxy = args.behind_proxy;
    config.secure_cookies = args.secure_cookies;
    config.sessions_per_minute = args.sessions_per_minute;
    config.media_quota_items = args.media_quota_items;
    config.media_quota_bytes = args.media_quota_bytes;
    config.connections.max_connections = args.max_connections as usize;
    config.open_enrolment = args.open_enrolment;
    if let Some(url) = &args.public_url {
        let url = url.trim_end_matches('/');
        anyhow::ensure!(
            (url.starts_with("https://") || url.starts_with("http://"))
                && url
                    .split_once("://")
                    .is_some_and(|(_, rest)| !rest.is_empty() && !rest.contains(['?', '#', ' '])),
            "--public-url {url:?}: give the server's address as https://host[:port][/path]"
        );
        config.public_url = Some(url.to_owned());
    }
    anyhow::ensure!(
        !args.badge_issuer_name.trim().is_empty() && args.badge_issuer_name.chars().count() <= 200,
        "--badge-issuer-name must have 1-200 characters"
    );
    config.badge_issuer_name = args.badge_issuer_name.trim().to_owned();
    config.badge_did = args
        .badge_did
        .as_deref()
        .and_then(invigil_server::badges::DidMethod::parse);
    if let Some(dir) = &args.console {
        anyhow::ensure!(
            dir.join("index.html").is_file(),
            "--console {}: no index.html there (build the console first)",
            dir.display()
        );
        config.console_dir = Some(dir.clone());
    }
    let db_shown = invigil_server::db::redact(&config.database_url());
    runtime()?.block_on(async move {
        let server = Server::start(config).await?;
        eprintln!("invigil server listening on http://{}", server.addr());
        eprintln!("  database: {db_shown}");
        eprintln!("  media:    {}", server.state().store().describe());
        eprintln!("  API:      http://{}/api/v1/openapi.json", server.addr());
        match args.retention_days {
            Some(days) => {
                eprintln!("  retention: sessions inactive for over {days} days are deleted")
            }
            None => eprintln!("  retention: none (sessions are kept; see --retention-days)"),
        }
        let issuing = server.state().config.issuing();
        eprintln!(
            "  badges:   issued as {} ({}), pages at {}/badges/...",
            issuing.issuer_name,
            match issuing.did {
                invigil_server::badges::DidMethod::Web => issuing.web_did(),
                invigil_server::badges::DidMethod::Key => "did:key".to_owned(),
            },
            issuing.public_url
        );
        if args.open_enrolment {
            eprintln!("  enrolment: OPEN (sessions start without a launch code, with the client's policy)");
        } else {
            eprintln!("  enrolment: launch codes (invigil exams enrol)");
        }
        shutdown_signal().await;
        eprintln!("invigil server: shutting down");
        server.shutdown().await
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

pub fn proctor_add(args: &ProctorAddArgs) -> anyhow::Result<ExitCode> {
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
        (invigil_core::chain::hex(&bytes), true)
    };
    let config = config(&args.db, "127.0.0.1:0".parse().expect("valid address"));
    runtime()?.block_on(async {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let db = invigil_server::Db::open(&config.database_url()).await?;
        invigil_server::set_proctor(&db, &args.name, &password).await?;
        if let Some(role) = args.role.as_deref().and_then(invigil_server::Role::parse) {
            invigil_server::set_role(&db, &args.name, role).await?;
        }
        anyhow::Ok(())
    })?;
    if generated {
        println!("proctor {} password {}", args.name, password);
    } else {
        eprintln!("proctor {} saved", args.name);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn proctor_remove(args: &ProctorRemoveArgs) -> anyhow::Result<ExitCode> {
    let config = config(&args.db, "127.0.0.1:0".parse().expect("valid address"));
    let removed = runtime()?.block_on(async {
        anyhow::ensure!(
            config.database_url.is_some() || config.data_dir.join("invigil.db").exists(),
            "no server database in {}",
            config.data_dir.display()
        );
        let db = invigil_server::Db::open(&config.database_url()).await?;
        invigil_server::remove_proctor(&db, &args.name).await
    })?;
    if removed {
        eprintln!("proctor {} removed; their sign-ins have ended", args.name);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: there is no proctor {}", args.name);
        Ok(ExitCode::from(1))
    }
}

pub fn proctor_list(db_args: &DatabaseArgs) -> anyhow::Result<ExitCode> {
    let config = config(db_args, "127.0.0.1:0".parse().expect("valid address"));
    let accounts = runtime()?.block_on(async {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let db = invigil_server::Db::open(&config.database_url()).await?;
        invigil_server::accounts(&db).await
    })?;
    for (name, role) in accounts {
        println!("{name}\t{}", role.as_str());
    }
    Ok(ExitCode::SUCCESS)
}
