//! An edge gateway: `POST /quote` takes `{"items":[{"id":..,"qty":..}]}` and answers the total
//! with tax. With `--check` it quotes one basket through itself on a free loopback port.

use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Line {
    id: u32,
    qty: u64,
}

#[derive(Deserialize)]
struct Basket {
    items: Vec<Line>,
}

#[derive(Serialize)]
struct Quote {
    lines: usize,
    total_cents: u64,
}

fn price(id: u32) -> u64 {
    match id {
        1 => 2499,
        2 => 1899,
        _ => 499,
    }
}

async fn quote(Json(basket): Json<Basket>) -> Json<Quote> {
    let net: u64 = basket.items.iter().map(|l| price(l.id) * l.qty).sum();
    tracing::info!(lines = basket.items.len(), net, "quoted");
    Json(Quote {
        lines: basket.items.len(),
        total_cents: net * 120 / 100,
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    service_kit::init_logging();
    let app = Router::new()
        .route("/quote", post(quote))
        .route("/health", get(|| async { "ok" }));
    let check = service_kit::check_mode();
    let listener =
        tokio::net::TcpListener::bind(if check { "127.0.0.1:0" } else { "0.0.0.0:8081" }).await?;
    if !check {
        return axum::serve(listener, app).await;
    }
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let body = r#"{"items":[{"id":1,"qty":2},{"id":3,"qty":1}]}"#;
    let request = format!(
        "POST /quote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    println!("edge-gateway: {}", service_kit::ask(addr, &request).await?);
    Ok(())
}
