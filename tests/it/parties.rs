//! The other parties a test plays, each a small server of its own on 127.0.0.1: a client that
//! publishes its keys at a `jwks_uri` (RFC 7591 §2), and a relying party's back-channel logout
//! endpoint (OpenID Connect Back-Channel Logout 1.0 §2.5).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Path, State};
use axum::routing::post;
use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// A client's key host: serves whatever key set the test puts in it, counting fetches.
pub struct JwksHost {
    pub url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksHost {
    pub async fn start(keys: Value) -> JwksHost {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (keys.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let body = served.lock().unwrap().clone();
                async move { axum::Json(body) }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve jwks");
        });
        JwksHost {
            url,
            keys,
            fetches,
            task,
        }
    }

    pub fn publish(&self, keys: Value) {
        *self.keys.lock().unwrap() = keys;
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A relying party's back-channel logout endpoint, inside the test: every POST to
/// `/logout/{app}` is recorded as (app, logout_token). `/slow/{app}` never answers in time.
pub struct Receiver {
    pub base: String,
    received: tokio::sync::Mutex<UnboundedReceiver<(String, String)>>,
}

#[derive(serde::Deserialize)]
struct LogoutForm {
    logout_token: String,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let (tx, rx) = unbounded_channel::<(String, String)>();
        let app = axum::Router::new()
            .route(
                "/logout/{app}",
                post(
                    |State(tx): State<Arc<UnboundedSender<(String, String)>>>,
                     Path(app): Path<String>,
                     Form(form): Form<LogoutForm>| async move {
                        let _ = tx.send((app, form.logout_token));
                        axum::http::StatusCode::OK
                    },
                ),
            )
            .route(
                "/slow/{app}",
                post(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    axum::http::StatusCode::OK
                }),
            )
            .with_state(Arc::new(tx));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            base: format!("http://{addr}"),
            received: tokio::sync::Mutex::new(rx),
        }
    }

    pub fn uri(&self, app: &str) -> String {
        format!("{}/logout/{app}", self.base)
    }

    /// Everything received within a short while, sorted by app.
    pub async fn drain(&self) -> Vec<(String, String)> {
        let mut rx = self.received.lock().await;
        let mut got = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await
        {
            got.push(item);
        }
        got.sort();
        got
    }
}
