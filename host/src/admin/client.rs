//! The HTTP client of the admin API, for the CLI: one request per connection.

use std::net::SocketAddr;
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
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, address.to_string());
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
