//! Malformed HTTP on the wire, against the real server: huge headers, truncated bodies, garbage
//! instead of HTTP, and hundreds of connections that never send a request. Each gets a 4xx or a
//! closed connection within seconds, and the server keeps answering everyone else.
//! (Every route's answers to malformed bodies, paths and queries are checked in process by
//! `crates/server/tests/hardening.rs`.)

#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

/// Sends raw bytes and returns what came back before the server closed or 10 s passed.
fn raw(url: &str, request: &[u8], close_write: bool) -> (String, Duration) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let _ = stream.write_all(request);
    if close_write {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") && !close_write {
                    break;
                }
            }
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

fn status(response: &str) -> Option<u16> {
    response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
}

fn healthy(s: &TestServer) {
    let (code, _) = common::http(&s.url, "GET", "/healthz", &[], None);
    assert_eq!(code, 200, "the server stopped answering");
}

#[test]
fn malformed_http_on_the_wire_is_refused_and_the_server_keeps_serving() {
    let s = TestServer::start(&[]);
    let host = s.url.trim_start_matches("http://").to_string();

    // A megabyte of headers.
    let big = format!(
        "GET /v1/me HTTP/1.1\r\nHost: {host}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let (resp, took) = raw(&s.url, big.as_bytes(), false);
    assert!(
        resp.is_empty() || status(&resp).is_some_and(|c| (400..500).contains(&c)),
        "huge headers: {}",
        &resp[..resp.len().min(200)]
    );
    assert!(
        took < Duration::from_secs(10),
        "huge headers hung for {took:?}"
    );
    healthy(&s);

    // A body shorter than its Content-Length, then the client stops sending.
    let truncated = format!(
        "POST /v1/teams HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\nContent-Length: 1000\r\n\r\n{{\"slug\": \"x",
        s.admin_token()
    );
    let (resp, took) = raw(&s.url, truncated.as_bytes(), true);
    assert!(
        resp.is_empty() || status(&resp).is_some_and(|c| (400..500).contains(&c)),
        "truncated body: {resp}"
    );
    assert!(
        took < Duration::from_secs(10),
        "a truncated body hung for {took:?}"
    );
    let (_, teams) = common::http(
        &s.url,
        "GET",
        "/v1/teams",
        &[("Authorization", Some(format!("Bearer {}", s.admin_token())))],
        None,
    );
    assert!(
        !teams.contains("\"slug\":\"x\""),
        "half a request created something: {teams}"
    );
    healthy(&s);

    // Not HTTP at all.
    let (resp, _) = raw(
        &s.url,
        b"\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n",
        true,
    );
    assert!(
        resp.is_empty() || status(&resp).is_some_and(|c| (400..500).contains(&c)),
        "garbage: {resp}"
    );
    // A request line with an absurd method and path.
    let (resp, _) = raw(
        &s.url,
        format!(
            "FROB%% /{} HTTP/1.1\r\nHost: {host}\r\n\r\n",
            "%".repeat(5000)
        )
        .as_bytes(),
        true,
    );
    assert!(
        resp.is_empty() || status(&resp).is_some_and(|c| (400..500).contains(&c)),
        "absurd request line: {}",
        &resp[..resp.len().min(200)]
    );
    healthy(&s);

    // Three hundred connections that never send a request do not starve anyone.
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(host.as_str()).unwrap())
        .collect();
    let started = Instant::now();
    healthy(&s);
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(idle);
    healthy(&s);
}
