//! `listener::serve_with`: shutdown lets finished connections go and cuts, and counts, those
//! whose requests outlive the shutdown timeout; the connection limit serves the next client
//! once a connection closes. No test waits on a clock: the timeout used is zero, and ordering
//! comes from channels.

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use duogate_server::listener::{ServeOptions, serve_with};

/// A router whose `/hang` answers never (it says it started first) and `/ok` at once.
fn router(started: tokio::sync::mpsc::UnboundedSender<()>) -> axum::Router {
    let started = Arc::new(Mutex::new(started));
    axum::Router::new()
        .route("/ok", axum::routing::get(|| async { "ok" }))
        .route(
            "/hang",
            axum::routing::get(move || {
                let started = started.clone();
                async move {
                    let _ = started.lock().unwrap().send(());
                    std::future::pending::<&'static str>().await
                }
            }),
        )
}

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cuts_and_counts_connections_whose_requests_outlive_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(
        router(started_tx),
        listener,
        async move {
            let _ = stop.await;
        },
        ServeOptions {
            max_connections: None,
            shutdown_timeout: Duration::ZERO,
            ..ServeOptions::default()
        },
    ));
    let finished = tokio::task::spawn_blocking(move || get(addr, "/ok"))
        .await
        .unwrap();
    assert!(finished.starts_with("HTTP/1.1 200"), "{finished}");
    let hanging = tokio::task::spawn_blocking(move || get(addr, "/hang"));
    started.recv().await.unwrap();
    stop_tx.send(()).unwrap();
    let report = server.await.unwrap().unwrap();
    assert_eq!(report.cut_connections, 1);
    drop(hanging);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_server_reports_no_cut_connections() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (started_tx, _started) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(
        router(started_tx),
        listener,
        async move {
            let _ = stop.await;
        },
        ServeOptions {
            max_connections: Some(1),
            // Never reached: nothing is in flight at shutdown.
            shutdown_timeout: Duration::from_secs(3600),
            ..ServeOptions::default()
        },
    ));
    for _ in 0..3 {
        // With a limit of one, each client is served after the previous one closed.
        let answer = tokio::task::spawn_blocking(move || get(addr, "/ok"))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    stop_tx.send(()).unwrap();
    let report = server.await.unwrap().unwrap();
    assert_eq!(report.cut_connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_limit_a_client_waits_unaccepted() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(
        router(started_tx),
        listener,
        async move {
            let _ = stop.await;
        },
        ServeOptions {
            max_connections: Some(1),
            shutdown_timeout: Duration::ZERO,
            ..ServeOptions::default()
        },
    ));
    let first = tokio::task::spawn_blocking(move || get(addr, "/hang"));
    started.recv().await.unwrap();
    // The second client's request is written (into the kernel's buffers) but never accepted.
    let second = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(stream, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        stream
    })
    .await
    .unwrap();
    stop_tx.send(()).unwrap();
    let report = server.await.unwrap().unwrap();
    assert_eq!(report.cut_connections, 1, "only the first was accepted");
    assert!(started.try_recv().is_err(), "the second request was served");
    drop((first, second));
}
