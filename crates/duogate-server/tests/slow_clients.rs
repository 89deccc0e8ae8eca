//! Slow clients through the real listener: a client that sends half a request line loses its
//! connection after the header-read timeout, while a prompt client is served.

mod support;

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use duogate_server::{AppState, ServiceSettings};

#[tokio::test]
async fn a_client_that_sends_half_a_request_line_is_disconnected_after_the_header_timeout() {
    let (store, _root, _dir) = support::store_with_root().await;
    let state = AppState::new(store, ServiceSettings::default())
        .with_header_read_timeout(Duration::from_secs(1));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(duogate_server::run(state, listener, async move {
        let _ = stopped.await;
    }));

    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /v1/duogate/hea").await.unwrap();
    let mut buffer = Vec::new();
    // Generous: the server closes it after 1 s; without the timeout this read never ends.
    let read = tokio::time::timeout(Duration::from_secs(15), slow.read_to_end(&mut buffer)).await;
    assert!(
        read.is_ok(),
        "the half-sent request's connection is still open"
    );

    // A prompt client on another connection is served.
    let mut prompt = TcpStream::connect(addr).await.unwrap();
    prompt
        .write_all(b"GET /v1/duogate/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(15), prompt.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
