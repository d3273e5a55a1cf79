//! Method and path to endpoint. Paths are matched as segments, so each endpoint is one
//! arm: add arms (and a handler file) for new endpoints.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::guard;
use super::learn::{self, Lesson};
use super::quarantine;
use super::queue;
use super::server::AdminContext;

/// A response of the admin API.
pub(super) type Reply = Response<Full<Bytes>>;

/// Answers one request.
pub(super) async fn handle<B>(context: &AdminContext, request: Request<B>) -> Reply
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(refused) = guard::refusal(&request, context.address, &context.token) {
        return refused;
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result = match (&method, segments.as_slice()) {
        (&Method::GET, ["metrics"]) => metrics(context).await,
        (&Method::POST, ["reload"]) => reload(context).await,
        (&Method::GET, ["plugins"]) => {
            let plugins: Vec<serde_json::Value> = context
                .pipeline
                .current()
                .plugins()
                .iter()
                .map(|p| p.summary())
                .collect();
            Ok(json(StatusCode::OK, &serde_json::Value::Array(plugins)))
        }
        (&Method::GET, ["learn", "stats"]) => learn::stats(context).await,
        (&Method::POST, ["learn", what]) => {
            match (Lesson::parse(what), read_body(context, request).await) {
                (Ok(lesson), Ok(body)) => {
                    let plugin = query.as_deref().and_then(|q| q.strip_prefix("plugin="));
                    learn::learn(context, lesson, plugin, body).await
                }
                (Err(failure), _) | (_, Err(failure)) => Err(failure),
            }
        }
        (&Method::GET, ["queue"]) => queue::list(context).await,
        (&Method::GET, ["queue", "stats"]) => queue::stats(context).await,
        (&Method::POST, ["queue", "flush"]) => queue::flush_all(context).await,
        (&Method::GET, ["queue", id]) => queue::show(context, id).await,
        (&Method::GET, ["queue", id, "message"]) => queue::message(context, id).await,
        (&Method::POST, ["queue", "batch", action]) => match read_body(context, request).await {
            Ok(body) => queue::act_on_many(context, action, &body).await,
            Err(failure) => Err(failure),
        },
        (
            &Method::POST,
            [
                "queue",
                id,
                action @ ("flush" | "hold" | "release" | "bounce"),
            ],
        ) => queue::act(context, id, action).await,
        (&Method::DELETE, ["queue", id]) => queue::act(context, id, "delete").await,
        (&Method::GET, ["quarantine"]) => quarantine::list(context).await,
        (&Method::GET, ["quarantine", id]) => quarantine::show(context, id).await,
        (&Method::GET, ["quarantine", id, "message"]) => quarantine::message(context, id).await,
        (&Method::POST, ["quarantine", id, "release"]) => quarantine::release(context, id).await,
        (&Method::DELETE, ["quarantine", id]) => quarantine::delete(context, id).await,
        _ => Err(Failure::new(
            StatusCode::NOT_FOUND,
            format!("no endpoint {method} {path}"),
        )),
    };
    result.unwrap_or_else(Failure::into_reply)
}

/// `POST /reload`: the configuration read again and the new plugin set in force; 422 with
/// the problems when the configuration is refused (the running one stays).
async fn reload(context: &AdminContext) -> Result<Reply, Failure> {
    match context.reloader.reload().await {
        Ok(report) => Ok(json(StatusCode::OK, &json!(report))),
        Err(error) => Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error.to_string(),
        )),
    }
}

/// `GET /metrics`: the Prometheus text exposition.
async fn metrics(context: &AdminContext) -> Result<Reply, Failure> {
    Ok(bytes(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        context.metrics.render().into_bytes(),
    ))
}

/// The request's body, refused (413) beyond the context's limit.
async fn read_body<B>(context: &AdminContext, request: Request<B>) -> Result<Vec<u8>, Failure>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt as _;
    let limited = http_body_util::Limited::new(request.into_body(), context.max_body_bytes);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(error) => Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "cannot read the request body (at most {} bytes): {error}",
                context.max_body_bytes
            ),
        )),
    }
}

/// Why a request failed: the status and a message for `{"error": ...}`. Small, so handlers
/// can return it through `?`; it becomes a response only at the end.
#[derive(Debug)]
pub(super) struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    /// A failure with `status`.
    pub(super) fn new(status: StatusCode, message: String) -> Self {
        Self { status, message }
    }

    fn into_reply(self) -> Reply {
        error(self.status, &self.message)
    }
}

/// A JSON response.
pub(super) fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    bytes(status, "application/json", value.to_string().into_bytes())
}

/// A JSON response serialized straight from `value`, without the `Value` tree `json!`
/// builds first (for lists of many records, the tree is many times the body's size).
pub(super) fn json_of<T: serde::Serialize>(status: StatusCode, value: &T) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => bytes(status, "application/json", body),
        Err(problem) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot encode the answer: {problem}"),
        ),
    }
}

/// `{"error": message}` with `status`.
pub(super) fn error(status: StatusCode, message: &str) -> Reply {
    json(status, &json!({ "error": message }))
}

/// A response with this body.
pub(super) fn bytes(status: StatusCode, content_type: &str, body: Vec<u8>) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
