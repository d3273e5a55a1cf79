//! The HTTP client of the admin API, for the CLI (one request per connection), and how
//! the CLI finds the running server's endpoint: the address the server wrote into its
//! data dir ([`address_file`]), else the configured one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long one request may take in all.
const LIMIT: Duration = Duration::from_secs(30);

/// Why a request to the admin endpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    /// Nothing answered at the address.
    #[error("cannot reach the admin endpoint at {address}: {source}")]
    Connect {
        /// The address tried.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// HTTP failed.
    #[error("admin request failed: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built.
    #[error("bad admin request: {0}")]
    Request(#[from] hyper::http::Error),
    /// No answer in time.
    #[error("the admin endpoint did not answer within {LIMIT:?}")]
    Timeout,
}

/// A response: its status code and body.
#[derive(Debug, Clone)]
pub struct AdminResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// A running server's admin endpoint: where it listens, and the token it asks for.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its address.
    pub address: SocketAddr,
    /// `[admin] token`, sent as `Authorization: Bearer TOKEN` when set.
    pub token: Option<String>,
}

/// Sends `method path` to the admin endpoint.
pub async fn request(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
) -> Result<AdminResponse, AdminClientError> {
    request_with_body(endpoint, method, path, Vec::new()).await
}

/// Sends `method path` with `body` to the admin endpoint.
pub async fn request_with_body(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> Result<AdminResponse, AdminClientError> {
    tokio::time::timeout(LIMIT, send(endpoint, method, path, body))
        .await
        .map_err(|_| AdminClientError::Timeout)?
}

async fn send(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> Result<AdminResponse, AdminClientError> {
    let address = endpoint.address;
    let stream = TcpStream::connect(address)
        .await
        .map_err(|source| AdminClientError::Connect { address, source })?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(connection);
    // The endpoint takes writes only with a body type a browser cannot send unasked.
    let content_type = if path.starts_with("/learn/") {
        "message/rfc822"
    } else {
        "application/json"
    };
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, address.to_string())
        .header(hyper::header::CONTENT_TYPE, content_type);
    if let Some(token) = &endpoint.token {
        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    driver.abort();
    Ok(AdminResponse { status, body })
}

/// The file in the data directory holding the running server's admin address.
pub fn address_file(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.addr")
}

/// Why no running server's endpoint is known.
#[derive(Debug, thiserror::Error)]
#[error(
    "moat is running on {data_dir} but has no admin endpoint (add an [admin] section)",
    data_dir = .0.display()
)]
pub struct NoEndpoint(PathBuf);

/// The file in the data directory holding the admin token the server made (when
/// `[admin] token` is not set).
pub fn token_file(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.token")
}

/// The token to send to the server running on `config`'s data dir: `[admin] token`, else
/// the one it made in the data dir (`None` if this user cannot read it).
pub fn token_for(config: &crate::config::Config) -> Option<String> {
    config
        .admin
        .as_ref()
        .and_then(|a| a.token.clone())
        .or_else(|| {
            std::fs::read_to_string(token_file(&config.server.data_dir))
                .ok()
                .map(|text| text.trim().to_owned())
        })
}

/// The admin endpoint of the server running on `config`'s data dir: the address it wrote
/// there, else the configured one; with its token.
pub fn running_endpoint(config: &crate::config::Config) -> Result<Endpoint, NoEndpoint> {
    let data_dir = &config.server.data_dir;
    let from_file = std::fs::read_to_string(address_file(data_dir))
        .ok()
        .and_then(|text| text.trim().parse::<SocketAddr>().ok());
    let from_config = config
        .admin
        .as_ref()
        .map(|a| a.address)
        .filter(|a| a.port() != 0);
    let token = token_for(config);
    match from_file.or(from_config) {
        Some(address) => Ok(Endpoint { address, token }),
        None => Err(NoEndpoint(data_dir.clone())),
    }
}

/// The message of an error answer (`{"error": ...}`), or the body as text.
pub fn error_text(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}
