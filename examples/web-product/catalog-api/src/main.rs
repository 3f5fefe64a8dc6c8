//! A catalog service: `GET /items` and `GET /items/{id}` as JSON. With `--check` it serves one
//! request to itself on a free loopback port, prints the answer and exits.

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

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
    service_kit::init_logging();
    let app = Router::new()
        .route("/items", get(items))
        .route("/items/{id}", get(item));
    let check = service_kit::check_mode();
    let listener =
        tokio::net::TcpListener::bind(if check { "127.0.0.1:0" } else { "0.0.0.0:8080" }).await?;
    if !check {
        return axum::serve(listener, app).await;
    }
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let request = "GET /items/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    println!("catalog-api: {}", service_kit::ask(addr, request).await?);
    Ok(())
}
