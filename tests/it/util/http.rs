//! A real HTTP server on 127.0.0.1 for the tests: serves fixture files with
//! ETags, and misbehaves on request (errors, redirects, slow or endless
//! bodies, raw header bytes). It counts what it is asked, so tests can check conditional GETs,
//! 304s, User-Agents and how many requests one host had in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// What the server answers on one path.
#[derive(Clone)]
pub enum Reply {
    /// A file, with an ETag and Last-Modified; a matching conditional GET gets 304.
    File { content_type: String, body: Vec<u8> },
    /// A bare status with optional headers.
    Status { code: u16, headers: Vec<(&'static str, String)> },
    /// A redirect to `location`.
    Redirect(String),
    /// The reply after a delay.
    Slow(Duration, Box<Reply>),
    /// `len` bytes of zeros, streamed without a Content-Length.
    Endless { len: u64 },
    /// One byte per `every`, `count` times.
    Trickle { every: Duration, count: usize },
    /// Headers, then silence.
    Stall,
    /// Raw bytes with the given headers, as is (e.g. a gzip body).
    Raw { headers: Vec<(&'static str, String)>, body: Vec<u8> },
    /// Any status, header values as raw bytes (not necessarily UTF-8 or
    /// even visible ASCII), and a body, as is.
    Bytes { code: u16, headers: Vec<(&'static str, Vec<u8>)>, body: Vec<u8> },
}

impl Reply {
    pub fn file(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::File { content_type: content_type.into(), body: body.into() }
    }

    pub fn status(code: u16) -> Reply {
        Reply::Status { code, headers: Vec::new() }
    }
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub conditional: bool,
    pub status: u16,
    pub user_agent: String,
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Reply>>,
    hits: Mutex<Vec<Hit>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[derive(Clone)]
pub struct HttpServer {
    pub base: String,
    shared: Arc<Shared>,
}

fn etag_of(body: &[u8]) -> String {
    use sha2::Digest;
    format!("\"{}\"", kisha::extract::hex(&sha2::Sha256::digest(body)[..8]))
}

const LAST_MODIFIED: &str = "Wed, 19 Aug 2026 09:00:00 GMT";

fn respond(reply: Reply, headers: &HeaderMap) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>> {
    let conditional_etag = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let headers = headers.clone();
    Box::pin(async move {
        match reply {
            Reply::File { content_type, body } => {
                let etag = etag_of(&body);
                if conditional_etag.as_deref() == Some(etag.as_str()) {
                    return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
                }
                (
                    [
                        (header::CONTENT_TYPE, content_type),
                        (header::ETAG, etag),
                        (header::LAST_MODIFIED, LAST_MODIFIED.to_owned()),
                    ],
                    body,
                )
                    .into_response()
            }
            Reply::Status { code, headers } => {
                let mut r =
                    (StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), format!("status {code}"))
                        .into_response();
                for (k, v) in headers {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                r
            }
            Reply::Redirect(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Reply::Slow(delay, inner) => {
                tokio::time::sleep(delay).await;
                respond(*inner, &headers).await
            }
            Reply::Endless { len } => {
                let chunk = vec![b'a'; 64 * 1024];
                let chunks = len.div_ceil(chunk.len() as u64);
                let stream =
                    futures_util::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
                ([(header::CONTENT_TYPE, "text/html")], Body::from_stream(stream)).into_response()
            }
            Reply::Trickle { every, count } => {
                let stream = futures_util::stream::unfold(0usize, move |i| async move {
                    if i >= count {
                        return None;
                    }
                    tokio::time::sleep(every).await;
                    Some((Ok::<_, std::io::Error>(vec![b'<']), i + 1))
                });
                ([(header::CONTENT_TYPE, "text/html")], Body::from_stream(stream)).into_response()
            }
            Reply::Stall => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                StatusCode::GATEWAY_TIMEOUT.into_response()
            }
            Reply::Raw { headers, body } => {
                let mut r = body.into_response();
                for (k, v) in headers {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                r
            }
            Reply::Bytes { code, headers, body } => {
                let mut r = body.into_response();
                *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                for (k, v) in headers {
                    r.headers_mut().insert(k, header::HeaderValue::from_bytes(&v).unwrap());
                }
                r
            }
        }
    })
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let path = uri.path().to_owned();
    let reply = shared.routes.lock().unwrap().get(&path).cloned();
    let conditional = headers.contains_key(header::IF_NONE_MATCH) || headers.contains_key(header::IF_MODIFIED_SINCE);
    let response = match reply {
        Some(r) => respond(r, &headers).await,
        None => (StatusCode::NOT_FOUND, "no such fixture").into_response(),
    };
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    shared.hits.lock().unwrap().push(Hit {
        path,
        conditional,
        status: response.status().as_u16(),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned(),
    });
    response
}

impl HttpServer {
    pub async fn start() -> HttpServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        HttpServer { base, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn set(&self, path: &str, reply: Reply) {
        self.shared.routes.lock().unwrap().insert(path.into(), reply);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    pub fn hits_on(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path).collect()
    }

    pub fn clear_hits(&self) {
        self.shared.hits.lock().unwrap().clear();
        self.shared.max_in_flight.store(0, Ordering::SeqCst);
    }

    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}
