//! Connection limits against a raw socket (issue 12): half-sent headers and
//! bodies are cut off, a declared length over the limit is refused before
//! any of it is read, and connections over the cap are turned away.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Db, TestServer};

async fn limited() -> TestServer {
    TestServer::start_with(Db::Sqlite, |c| {
        c.connections.header_timeout = Duration::from_secs(1);
        c.connections.body_timeout = Duration::from_secs(1);
        c.connections.max_connections = 3;
    })
    .await
    .unwrap()
}

/// Everything the server sends until it closes (or `limit` passes).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the server kept the connection open for {limit:?}; got so far: {}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_are_cut_off() {
    let s = limited().await;
    let mut stream = TcpStream::connect(s.server.addr()).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let (_, took) = read_until_closed(&mut stream, Duration::from_secs(8)).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_cut_off() {
    let s = limited().await;
    let mut stream = TcpStream::connect(s.server.addr()).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user",
        )
        .await
        .unwrap();
    let (reply, took) = read_until_closed(&mut stream, Duration::from_secs(8)).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 4"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_refused_at_once() {
    let s = limited().await;
    let (id, token) = s.session("exam-r", "cand-r").await;
    for (path, auth) in [
        ("/api/v1/sessions".to_owned(), String::new()),
        (
            format!(
                "/api/v1/sessions/{id}/media/{}?name=x&kind=clip",
                "a".repeat(64)
            ),
            format!("Authorization: Bearer {token}\r\n"),
        ),
    ] {
        let mut stream = TcpStream::connect(s.server.addr()).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 1099511627776\r\n\r\n"
        );
        let head = if path.contains("/media/") {
            head.replacen("POST", "PUT", 1)
        } else {
            head
        };
        stream.write_all(head.as_bytes()).await.unwrap();
        let (reply, took) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(reply.starts_with("HTTP/1.1 413"), "{path}: {reply}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_still_sending_an_oversize_body_reads_the_413() {
    // Before the drain, the server closed with the body unread and the
    // kernel reset the connection: the client saw a broken pipe, not 413.
    let s = limited().await;
    let (id, token) = s.session("exam-d", "cand-d").await;
    let big = vec![b'x'; 12 << 20];
    for round in 0..8 {
        let r = s
            .http
            .post(s.url(&format!("/api/v1/sessions/{id}/events")))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        assert_eq!(r.status(), 413, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_turned_away() {
    let s = limited().await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = TcpStream::connect(s.server.addr()).await.unwrap();
        // A complete request keeps each connection busy-alive.
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = c.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        open.push(c);
    }
    let mut extra = TcpStream::connect(s.server.addr()).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let (reply, _) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("retry-after: 1"), "{reply}");
    // Once one closes, a new connection is served.
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
