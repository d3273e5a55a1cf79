//! Who may ask the admin endpoint anything. The endpoint can read and delete every
//! message, so it answers only the CLI (or a script the operator runs), never a web page
//! open in a browser on the same host, nor another local user:
//!
//! * a token on every request (`Authorization: Bearer`): `[admin] token`, or by default
//!   one generated at first start into `data_dir/admin.token` (mode 0600), which the
//!   `moat` CLI reads on its own. A local user who cannot read the data dir cannot ask;
//! * no `Origin` header: browsers send one on every cross-origin request (and on every
//!   POST), command-line clients never do;
//! * a `Host` naming the endpoint itself (its address, or `localhost` on its port): a
//!   page that rebinds its own name to 127.0.0.1 (DNS rebinding) still sends its name;
//! * writes carry a body type a browser cannot send without a CORS preflight, which this
//!   endpoint never grants: `application/json` (`message/rfc822` for a message to learn).

use std::net::SocketAddr;

use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN};
use hyper::{Method, Request, StatusCode};

use super::router::{Reply, error};

/// Why a request is refused before it is read, as its reply; `None` lets it through.
pub(super) fn refusal<B>(request: &Request<B>, address: SocketAddr, token: &str) -> Option<Reply> {
    if request.headers().contains_key(ORIGIN) {
        return Some(error(
            StatusCode::FORBIDDEN,
            "requests from web pages are refused (an Origin header was sent)",
        ));
    }
    if !host_is_endpoint(request, address) {
        return Some(error(
            StatusCode::FORBIDDEN,
            "the Host header must name this endpoint",
        ));
    }
    if !authorized(request, token) {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs Authorization: Bearer TOKEN ([admin] token, or the data \
             dir's admin.token)",
        ));
    }
    if is_write(request.method()) && !has_body_type(request) {
        return Some(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a write needs Content-Type: application/json (message/rfc822 to learn)",
        ));
    }
    None
}

/// Whether `method` changes something.
fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}

/// Whether the request's `Content-Type` is one a browser cannot send cross-origin
/// without asking first.
fn has_body_type<B>(request: &Request<B>) -> bool {
    let Some(value) = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let learning = request.uri().path().starts_with("/learn/");
    essence == "application/json" || (learning && essence == "message/rfc822")
}

/// Whether the `Host` header names `address`: `localhost` or an IP literal, on its port —
/// its own IP, or any when it listens on every address. Never a DNS name other than
/// `localhost`: that is what a rebinding page sends.
fn host_is_endpoint<B>(request: &Request<B>, address: SocketAddr) -> bool {
    let Some(host) = request.headers().get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    if host == format!("localhost:{}", address.port()) {
        return true;
    }
    match host.parse::<SocketAddr>() {
        Ok(named) => {
            named.port() == address.port()
                && (named.ip() == address.ip() || address.ip().is_unspecified())
        }
        Err(_) => false,
    }
}

/// Whether `request` carries `Authorization: Bearer TOKEN`, compared in constant time.
fn authorized<B>(request: &Request<B>, token: &str) -> bool {
    let Some(given) = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (given, token) = (given.as_bytes(), token.as_bytes());
    given.len() == token.len()
        && given
            .iter()
            .zip(token)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDRESS: &str = "127.0.0.1:2580";
    const TOKEN: &str = "0123456789abcdef0123";

    fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).expect("a request")
    }

    fn status(request: &Request<()>) -> Option<StatusCode> {
        refusal(request, ADDRESS.parse().expect("address"), TOKEN).map(|reply| reply.status())
    }

    const GOOD: [(&str, &str); 3] = [
        ("host", ADDRESS),
        ("authorization", "Bearer 0123456789abcdef0123"),
        ("content-type", "application/json"),
    ];

    #[test]
    fn the_cli_gets_through() {
        assert_eq!(status(&request("POST", "/queue/flush", &GOOD)), None);
        assert_eq!(status(&request("GET", "/queue", &GOOD[..2])), None);
        let learn = [GOOD[0], GOOD[1], ("content-type", "message/rfc822")];
        assert_eq!(status(&request("POST", "/learn/ham", &learn)), None);
        let localhost = [("host", "localhost:2580"), GOOD[1]];
        assert_eq!(status(&request("GET", "/metrics", &localhost)), None);
    }

    #[test]
    fn a_web_page_is_refused_however_it_asks() {
        let mut cross_site = GOOD.to_vec();
        cross_site.push(("origin", "http://evil.example"));
        assert_eq!(
            status(&request("POST", "/queue/batch/delete", &cross_site)),
            Some(StatusCode::FORBIDDEN)
        );
        let rebound = [("host", "evil.example:2580"), GOOD[1], GOOD[2]];
        assert_eq!(
            status(&request("GET", "/queue", &rebound)),
            Some(StatusCode::FORBIDDEN)
        );
        let simple = [GOOD[0], GOOD[1], ("content-type", "text/plain")];
        assert_eq!(
            status(&request("POST", "/queue/batch/delete", &simple)),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        let no_type = [GOOD[0], GOOD[1]];
        assert_eq!(
            status(&request("DELETE", "/queue/x", &no_type)),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        let rfc822 = [GOOD[0], GOOD[1], ("content-type", "message/rfc822")];
        assert_eq!(
            status(&request("POST", "/queue/flush", &rfc822)),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }

    #[test]
    fn without_the_token_nothing_is_answered() {
        let no_token = [GOOD[0], GOOD[2]];
        assert_eq!(
            status(&request("GET", "/queue", &no_token)),
            Some(StatusCode::UNAUTHORIZED)
        );
        let wrong = [GOOD[0], ("authorization", "Bearer 0123456789abcdef0124")];
        assert_eq!(
            status(&request("GET", "/queue", &wrong)),
            Some(StatusCode::UNAUTHORIZED)
        );
        let other_ip = [("host", "127.0.0.2:2580"), GOOD[1]];
        assert_eq!(
            status(&request("GET", "/queue", &other_ip)),
            Some(StatusCode::FORBIDDEN)
        );
        let any = refusal(
            &request("GET", "/queue", &[("host", "192.0.2.7:2580"), GOOD[1]]),
            "0.0.0.0:2580".parse().expect("address"),
            TOKEN,
        );
        assert!(any.is_none(), "an endpoint on every address takes its IPs");
        let no_host = [GOOD[1]];
        assert_eq!(
            status(&request("GET", "/queue", &no_host)),
            Some(StatusCode::FORBIDDEN)
        );
    }
}
