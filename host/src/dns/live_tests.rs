//! The resolver against real sockets on loopback: a real DNS block-list server (rbldnsd),
//! a server that never answers, one that answers SERVFAIL, and one whose UDP answers are
//! truncated so that the question is asked again over TCP. Every test is bounded in
//! time and stops what it started.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use super::test_server::DnsblServer;
use super::{LookupError, RecordKind, Resolver, ResolverSettings};

/// No test here may take longer than this.
const TEST_DEADLINE: Duration = Duration::from_secs(30);

async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_DEADLINE, test)
        .await
        .expect("test exceeded its deadline")
}

fn resolver_for(addr: SocketAddr, timeout: Duration, attempts: usize) -> Resolver {
    let settings = ResolverSettings {
        nameservers: vec![addr],
        timeout,
        attempts,
        ..ResolverSettings::default()
    };
    Resolver::new(&settings).expect("resolver builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_block_list_answers_listed_and_unlisted() {
    let server = DnsblServer::start();
    let resolver = resolver_for(server.addr(), Duration::from_secs(2), 2);
    bounded(async {
        assert_eq!(
            resolver
                .lookup("2.0.0.127.bl.moat.test", RecordKind::A)
                .await,
            Ok(vec!["127.0.0.2".to_owned()])
        );
        assert_eq!(
            resolver
                .lookup("1.0.0.127.bl.moat.test.", RecordKind::A)
                .await,
            Err(LookupError::NotFound),
            "127.0.0.1 must not be listed (NXDOMAIN)"
        );
        assert_eq!(
            resolver
                .lookup("2.0.0.127.bl.moat.test", RecordKind::Txt)
                .await,
            Ok(vec![
                "Listed for testing, see https://example.test/lookup?127.0.0.2".to_owned()
            ])
        );
        assert_eq!(
            resolver
                .lookup("2.0.0.127.bl.moat.test", RecordKind::Mx)
                .await,
            Err(LookupError::NotFound),
            "a listed name has no MX (NODATA)"
        );
        assert_eq!(
            resolver.lookup("example.org", RecordKind::A).await,
            Err(LookupError::ServerFailure),
            "rbldnsd refuses names outside its zones"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_all_answers_in_question_order() {
    let server = DnsblServer::start();
    let resolver = resolver_for(server.addr(), Duration::from_secs(2), 2);
    let questions = [
        ("7.100.51.198.bl.moat.test", RecordKind::A),
        ("spammer.example.dbl.moat.test", RecordKind::A),
        ("invalid.dbl.moat.test", RecordKind::A),
        ("not an ip", RecordKind::Ptr),
        ("2.0.0.127.bl.moat.test", RecordKind::A),
    ]
    .map(|(name, kind)| (name.to_owned(), kind));
    let results = bounded(resolver.lookup_all(&questions)).await;
    assert_eq!(
        results,
        [
            Ok(vec!["127.0.0.10".to_owned()]),
            Ok(vec!["127.0.1.2".to_owned()]),
            Err(LookupError::NotFound),
            Err(LookupError::InvalidName),
            Ok(vec!["127.0.0.2".to_owned()]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_one_cache() {
    let server = DnsblServer::start();
    let resolver = resolver_for(server.addr(), Duration::from_millis(500), 1);
    let clone = resolver.clone();
    bounded(async {
        let first = resolver
            .lookup("2.0.0.127.bl.moat.test", RecordKind::A)
            .await;
        assert_eq!(first, Ok(vec!["127.0.0.2".to_owned()]));
        drop(server);
        // The server is gone: only the shared cache can answer now.
        let cached = clone.lookup("2.0.0.127.bl.moat.test", RecordKind::A).await;
        assert_eq!(cached, first);
        let uncached = clone.lookup("3.0.0.127.bl.moat.test", RecordKind::A).await;
        assert!(
            uncached.is_err(),
            "nothing answers an uncached name: {uncached:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_gives_timeout_within_the_bound() {
    // Bound but never read: queries vanish without an ICMP error.
    let silent = UdpSocket::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = silent.local_addr().expect("local address");
    let timeout = Duration::from_millis(300);
    let attempts = 2;
    let resolver = resolver_for(addr, timeout, attempts);
    // timeout × attempts, the guard's margin, and scheduling slack.
    let bound = timeout * 2 + Duration::from_millis(250) + Duration::from_millis(500);

    let started = Instant::now();
    let result = bounded(resolver.lookup("2.0.0.127.bl.moat.test", RecordKind::A)).await;
    let elapsed = started.elapsed();
    assert_eq!(result, Err(LookupError::Timeout));
    assert!(elapsed < bound, "took {elapsed:?}, bound {bound:?}");
    assert!(
        elapsed >= timeout,
        "gave up after {elapsed:?}, before one try's timeout"
    );

    // Many questions time out together, not one after another.
    let questions: Vec<(String, RecordKind)> = (0..5)
        .map(|i| (format!("{i}.0.0.127.bl.moat.test"), RecordKind::A))
        .collect();
    let started = Instant::now();
    let results = bounded(resolver.lookup_all(&questions)).await;
    let elapsed = started.elapsed();
    assert!(
        results.iter().all(|r| *r == Err(LookupError::Timeout)),
        "{results:?}"
    );
    assert!(
        elapsed < bound,
        "lookup_all took {elapsed:?}, bound {bound:?}"
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servfail_answer_is_a_server_failure() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = socket.local_addr().expect("local address");
    let responder = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            if let Some(reply) = reply(&buf[..n], Reply::ServFail) {
                let _ = socket.send_to(&reply, peer).await;
            }
        }
    });
    let resolver = resolver_for(addr, Duration::from_secs(1), 2);
    let result = bounded(resolver.lookup("example.org", RecordKind::Mx)).await;
    responder.abort();
    assert_eq!(result, Err(LookupError::ServerFailure));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_answer_is_asked_again_over_tcp_on_the_same_port() {
    let (udp, tcp) = udp_and_tcp_on_one_port().await;
    let addr = udp.local_addr().expect("local address");
    let udp_responder = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
            if let Some(reply) = reply(&buf[..n], Reply::Truncated) {
                let _ = udp.send_to(&reply, peer).await;
            }
        }
    });
    let tcp_responder = tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            tokio::spawn(async move {
                // Each message is preceded by its length (RFC 1035 4.2.2).
                while let Ok(len) = stream.read_u16().await {
                    let mut query = vec![0u8; usize::from(len)];
                    if stream.read_exact(&mut query).await.is_err() {
                        return;
                    }
                    let Some(answer) = reply(&query, Reply::A([192, 0, 2, 7])) else {
                        return;
                    };
                    let Ok(answer_len) = u16::try_from(answer.len()) else {
                        return;
                    };
                    let _ = stream.write_u16(answer_len).await;
                    let _ = stream.write_all(&answer).await;
                }
            });
        }
    });
    let resolver = resolver_for(addr, Duration::from_secs(2), 2);
    let result = bounded(resolver.lookup("big.example", RecordKind::A)).await;
    udp_responder.abort();
    tcp_responder.abort();
    assert_eq!(result, Ok(vec!["192.0.2.7".to_owned()]));
}

/// A UDP socket and a TCP listener on the same free loopback port.
async fn udp_and_tcp_on_one_port() -> (UdpSocket, TcpListener) {
    for _ in 0..10 {
        let tcp = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = tcp.local_addr().expect("local address");
        if let Ok(udp) = UdpSocket::bind(addr).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

/// What a fake server answers.
enum Reply {
    /// SERVFAIL, no records.
    ServFail,
    /// An empty answer with the TC bit: "too big for UDP, ask over TCP".
    Truncated,
    /// One A record with this address.
    A([u8; 4]),
}

/// The answer to `query` (same id and question, QR and RA set, RD echoed, any EDNS
/// record dropped), or `None` if the query is malformed.
fn reply(query: &[u8], kind: Reply) -> Option<Vec<u8>> {
    let (truncated, rcode, answers) = match kind {
        Reply::ServFail => (0, 2, 0),
        Reply::Truncated => (0x02, 0, 0),
        Reply::A(_) => (0, 0, 1),
    };
    let mut reply = super::handmade::answer_to(query, truncated, rcode, answers)?;
    if let Reply::A(ip) = kind {
        // The question's name by pointer, A, IN, TTL 60, 4 bytes of address.
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        reply.extend_from_slice(&ip);
    }
    Some(reply)
}
