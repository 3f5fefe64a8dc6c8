//! A small misbehaving HTTP/1.1 server for the binary cache's tests: it listens on 127.0.0.1,
//! answers each connection on its own thread with what a handler returns (raw bytes, so a test
//! can lie about lengths, cut bodies off or stall), and stops when dropped or after
//! [`LIFETIME`] at the latest. [`forward`] passes a request on to a real registry, so a handler
//! can act as a proxy that changes only what its test is about. It is also an HTTP proxy
//! (`CONNECT`, as ureq uses one): a tunnelled request's target names the tunnel's host.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a server runs, whatever its test does.
const LIFETIME: Duration = Duration::from_secs(300);

/// A request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// As sent: `/v2/…` (origin form) or `http://host/…` (to a proxy).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path and query, without a proxy request's scheme and host.
    pub fn path(&self) -> &str {
        match self.target.strip_prefix("http://") {
            Some(rest) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
            None => &self.target,
        }
    }
}

/// A response: status line after `HTTP/1.1 `, headers and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        Response {
            status: status.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The bytes to send, with `Content-Length: declared` (the body's length when `None`).
    pub fn to_bytes_declaring(&self, declared: Option<u64>) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {}\r\n", self.status).into_bytes();
        for (k, v) in &self.headers {
            let skip = ["content-length", "transfer-encoding", "connection"];
            if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                out.extend(format!("{k}: {v}\r\n").as_bytes());
            }
        }
        let length = declared.unwrap_or(self.body.len() as u64);
        out.extend(format!("Content-Length: {length}\r\nConnection: close\r\n\r\n").as_bytes());
        out.extend(&self.body);
        out
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_declaring(None)
    }
}

/// What a handler does with a connection: send bytes and close, or send them and then keep the
/// connection open for a while (a slow registry).
pub enum Reply {
    Send(Vec<u8>),
    /// Send the first `at` bytes, wait until the flag is set (at most [`LIFETIME`]), then send
    /// the rest: a slow registry.
    SendPausing(Vec<u8>, usize, Arc<AtomicBool>),
    /// Send in 64 KiB pieces, adding what the client took to the counter, until it closes.
    SendCounting(Vec<u8>, Arc<AtomicU64>),
}

pub struct FakeServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + LIFETIME;
            // Polled, so that the server stops at its deadline even if nobody connects.
            listener.set_nonblocking(true).unwrap();
            while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
                let mut conn = match listener.accept() {
                    Ok((conn, _)) => conn,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    Err(_) => continue,
                };
                let _ = conn.set_nonblocking(false);
                let handler = handler.clone();
                let flag = flag.clone();
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                    let Some(mut req) = read_request(&mut conn) else {
                        return;
                    };
                    // A client that tunnels through this server as a proxy: the request inside,
                    // with the tunnel's host in its target.
                    if req.method == "CONNECT" {
                        let through = req.target.clone();
                        let ok = b"HTTP/1.1 200 Connection established\r\n\r\n";
                        let Some(inner) = conn
                            .write_all(ok)
                            .ok()
                            .and_then(|_| read_request(&mut conn))
                        else {
                            return;
                        };
                        req = inner;
                        req.target = format!("http://{through}{}", req.target);
                    }
                    match handler(&req) {
                        Reply::Send(bytes) => {
                            let _ = conn.write_all(&bytes);
                        }
                        Reply::SendCounting(bytes, sent) => {
                            for piece in bytes.chunks(64 << 10) {
                                if conn.write_all(piece).is_err() {
                                    break;
                                }
                                sent.fetch_add(piece.len() as u64, Ordering::SeqCst);
                            }
                        }
                        Reply::SendPausing(bytes, at, release) => {
                            if conn.write_all(&bytes[..at]).is_err() {
                                return;
                            }
                            let until = Instant::now() + LIFETIME;
                            while !release.load(Ordering::SeqCst)
                                && !flag.load(Ordering::SeqCst)
                                && Instant::now() < until
                            {
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            let _ = conn.write_all(&bytes[at..]);
                        }
                    }
                });
            }
        });
        FakeServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// `oci://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("oci://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let (head, mut body) = read_head(conn)?;
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while body.len() < length {
        let mut buf = vec![0; 64 << 10];
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        body.extend(&buf[..n]);
    }
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

/// The bytes up to the blank line, and what was read after it.
fn read_head(conn: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = data.split_off(i + 4);
            data.truncate(i);
            return Some((data, rest));
        }
        let n = conn.read(&mut buf).ok()?;
        if n == 0 || data.len() > 1 << 20 {
            return None;
        }
        data.extend(&buf[..n]);
    }
}

/// Send `req` to the server on 127.0.0.1:`port` (a real registry) and return its response,
/// read whole.
pub fn forward(port: u16, req: &Request) -> Response {
    let mut up = TcpStream::connect(("127.0.0.1", port)).unwrap();
    up.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method, req.path()).into_bytes();
    for (k, v) in &req.headers {
        let skip = ["connection", "host", "content-length", "proxy-connection"];
        if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
            out.extend(format!("{k}: {v}\r\n").as_bytes());
        }
    }
    out.extend(
        format!(
            "Host: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            req.body.len()
        )
        .as_bytes(),
    );
    out.extend(&req.body);
    up.write_all(&out).unwrap();
    let (head, mut rest) = read_head(&mut up).expect("the registry answered");
    up.read_to_end(&mut rest).unwrap();
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap().split_once(' ').unwrap().1.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if req.method == "HEAD" {
        Vec::new()
    } else if chunked {
        dechunk(&rest)
    } else {
        rest
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..i]).trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend(&data[i + 2..i + 2 + size]);
        data = &data[i + 2 + size + 2..];
    }
    out
}
