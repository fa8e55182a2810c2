//! The server reaches PostgreSQL over TLS with the certificate checked
//! (`sslmode=verify-full`, a private CA in `sslrootcert`), as a managed
//! database requires (docs/deploy.md, "Production layout"), and refuses a
//! server whose certificate its CA did not sign. scripts/test gives its
//! PostgreSQL a throwaway CA (scripts/test-ca) and sets
//! `INVIGIL_TEST_POSTGRES_CA`; skipped (loudly) without it.

mod common;

use common::TestServer;

fn with_tls(url: &str, ca: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}sslmode=verify-full&sslrootcert={ca}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_reaches_postgres_over_verified_tls() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let Ok(ca) = std::env::var("INVIGIL_TEST_POSTGRES_CA") else {
        assert!(
            std::env::var_os("INVIGIL_REQUIRE_POSTGRES").is_none(),
            "INVIGIL_REQUIRE_POSTGRES is set but INVIGIL_TEST_POSTGRES_CA is not"
        );
        eprintln!("SKIPPED: PostgreSQL over TLS; set INVIGIL_TEST_POSTGRES_CA (scripts/test does)");
        return;
    };
    let tls = with_tls(&url, &ca);
    let s = TestServer::start_with(common::Db::Postgres, |c| c.database_url = Some(tls.clone()))
        .await
        .unwrap();
    let (ssl,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&s.server.state().db().pool)
            .await
            .unwrap();
    assert!(ssl, "the pool's connections are encrypted");
    // The server works through it.
    let (id, token) = s.session(&common::unique("exam-tls"), "cand").await;
    let events = common::chained(&id, 3);
    assert_eq!(s.append(&id, &token, &events).await.0, 200);

    // A CA that did not sign the database's certificate: the server does
    // not start, and says why.
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other.crt");
    let status = std::process::Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-ca"),
    )
    .arg(dir.path().join("other"))
    .stdout(std::process::Stdio::null())
    .status()
    .unwrap();
    assert!(status.success());
    std::fs::copy(dir.path().join("other/ca.crt"), &other_ca).unwrap();
    let mut config = invigil_server::Config::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.database_url = Some(with_tls(&url, &other_ca.display().to_string()));
    let err = match invigil_server::Server::start(config).await {
        Ok(_) => panic!("a database whose certificate the CA did not sign was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("certificate"), "{err}");
    assert!(!err.contains("password"), "{err}");
}
