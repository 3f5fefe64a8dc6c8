//! What the product's services share besides crates.io: logging set up one way, and the
//! `--check` mode's one raw HTTP/1.1 request to the service itself.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Log lines on stderr, without colours or times (the output of `--check` stays the same).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_ansi(false)
        .without_time()
        .with_writer(std::io::stderr)
        .init();
}

/// Whether the service was started with `--check`.
pub fn check_mode() -> bool {
    std::env::args().any(|a| a == "--check")
}

/// Send `request` (a whole HTTP/1.1 request with `Connection: close`) to `addr` and return the
/// body of the answer.
pub async fn ask(addr: std::net::SocketAddr, request: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer.rsplit("\r\n\r\n").next().unwrap_or("").to_string())
}
