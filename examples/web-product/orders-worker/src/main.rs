//! An order worker: reads orders as JSON lines, processes them on a pool of tasks, logs each
//! with tracing and prints a summary as JSON. With no input file it processes a built-in batch.

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

#[derive(Deserialize, Debug)]
struct Order {
    id: u64,
    cents: u64,
}

#[derive(Serialize, Default)]
struct Summary {
    orders: u64,
    total_cents: u64,
    largest: u64,
}

const BATCH: &str = r#"{"id":1,"cents":2499}
{"id":2,"cents":1899}
{"id":3,"cents":499}
{"id":4,"cents":12000}"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    service_kit::init_logging();
    let input = match std::env::args().nth(1).filter(|a| a != "--check") {
        Some(path) => tokio::fs::read_to_string(path).await?,
        None => BATCH.to_string(),
    };
    let (tx, mut rx) = mpsc::channel::<Order>(16);
    let worker = tokio::spawn(async move {
        let mut summary = Summary::default();
        while let Some(order) = rx.recv().await {
            tracing::info!(id = order.id, cents = order.cents, "processed");
            summary.orders += 1;
            summary.total_cents += order.cents;
            summary.largest = summary.largest.max(order.cents);
        }
        summary
    });
    for line in input.lines().filter(|l| !l.trim().is_empty()) {
        tx.send(serde_json::from_str(line)?).await?;
    }
    drop(tx);
    let summary = worker.await?;
    println!("orders-worker: {}", serde_json::to_string(&summary)?);
    Ok(())
}
