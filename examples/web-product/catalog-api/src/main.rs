//! A catalog service: `GET /items` and `GET /items/{id}` as JSON. With `--check` it serves one
//! request to itself on a free loopback port, prints the answer and exits.

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Serialize, Clone)]
struct Item {
    id: u32,
    name: &'static str,
    price_cents: u64,
}

const ITEMS: [Item; 3] = [
    Item {
        id: 1,
        name: "kettle",
        price_cents: 2499,
    },
    Item {
        id: 2,
        name: "teapot",
        price_cents: 1899,
    },
    Item {
        id: 3,
        name: "cup",
        price_cents: 499,
    },
];

async fn items() -> Json<Vec<Item>> {
    Json(ITEMS.to_vec())
}

async fn item(Path(id): Path<u32>) -> Json<Option<Item>> {
    tracing::info!(id, "item asked for");
    Json(ITEMS.iter().find(|i| i.id == id).cloned())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_ansi(false)
        .without_time()
        .init();
    let app = Router::new()
        .route("/items", get(items))
        .route("/items/{id}", get(item));
    let check = std::env::args().any(|a| a == "--check");
    let listener =
        tokio::net::TcpListener::bind(if check { "127.0.0.1:0" } else { "0.0.0.0:8080" }).await?;
    if !check {
        return axum::serve(listener, app).await;
    }
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /items/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    println!(
        "catalog-api: {}",
        answer.rsplit("\r\n\r\n").next().unwrap_or("")
    );
    Ok(())
}
