//! The client against a scripted SMTP server on loopback: what goes on the wire and how
//! replies become per-recipient outcomes. (End-to-end tests run it against smtp-sink and a
//! Python server.)

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpListener;

use super::*;

fn params() -> ClientParams {
    ClientParams::new(
        "moat.test".into(),
        Duration::from_secs(5),
        Duration::from_secs(5),
        Duration::from_secs(5),
    )
    .unwrap()
}

/// A server that answers each command by `answer(line)` and records every line it reads
/// (message lines included). Serves one connection.
async fn server(
    ehlo: &'static str,
    answer: fn(&str) -> Option<String>,
) -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut seen = Vec::new();
        write.write_all(b"220 test ESMTP\r\n").await.unwrap();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line.clone());
            let reply = if in_data {
                if line == "." {
                    in_data = false;
                    Some("250 2.0.0 queued".to_owned())
                } else {
                    None
                }
            } else if line.starts_with("EHLO") {
                Some(ehlo.to_owned())
            } else if line == "QUIT" {
                write.write_all(b"221 bye\r\n").await.unwrap();
                break;
            } else if line == "DATA" {
                let reply = answer(&line).unwrap_or_else(|| "354 go".to_owned());
                in_data = reply.starts_with("354");
                Some(reply)
            } else {
                Some(answer(&line).unwrap_or_else(|| "250 2.1.0 ok".to_owned()))
            };
            if let Some(reply) = reply {
                write
                    .write_all(format!("{reply}\r\n").as_bytes())
                    .await
                    .unwrap();
            }
        }
        seen
    });
    (address, task)
}

fn envelope<'a>(recipients: &[&'a str]) -> Envelope<'a> {
    Envelope {
        mail_from: "alice@example.org",
        recipients: recipients.to_vec(),
        size: 30,
        smtputf8: false,
        eight_bit_mime: true,
    }
}

#[tokio::test]
async fn per_recipient_replies_become_per_recipient_outcomes() {
    let (address, server) = server(
        "250-test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 1000",
        |line| match line {
            "RCPT TO:<later@example.test>" => Some("450 4.2.1 mailbox busy".into()),
            "RCPT TO:<gone@example.test>" => Some("550 5.1.1 no such user".into()),
            _ => None,
        },
    )
    .await;
    let mut connection = Connection::open(
        address,
        "sink",
        &params(),
        TlsPolicy::Opportunistic,
        None,
        None,
    )
    .await
    .unwrap();
    let outcomes = connection
        .send(
            &envelope(&["ok@example.test", "later@example.test", "gone@example.test"]),
            b"Subject: t\r\n\r\n.dot\r\n",
        )
        .await
        .unwrap();
    assert!(matches!(&outcomes[0], Outcome::Delivered { reply } if reply.starts_with("250")));
    assert!(matches!(&outcomes[1], Outcome::Deferred { error } if error.contains("450 4.2.1")));
    assert!(matches!(&outcomes[2], Outcome::Failed { reply } if reply == "550 5.1.1 no such user"));
    connection.quit().await;
    let seen = server.await.unwrap();
    assert!(
        seen.contains(&"MAIL FROM:<alice@example.org> SIZE=30 BODY=8BITMIME".to_owned()),
        "{seen:?}"
    );
    assert!(seen.contains(&"..dot".to_owned()), "dot-stuffed: {seen:?}");
}

#[tokio::test]
async fn a_refused_sender_decides_for_every_recipient_and_the_connection_is_reused() {
    let (address, server) = server("250 test", |line| {
        line.starts_with("MAIL FROM:<bad@")
            .then(|| "451 4.3.0 try later".into())
    })
    .await;
    let mut connection = Connection::open(address, "sink", &params(), TlsPolicy::None, None, None)
        .await
        .unwrap();
    let mut bad = envelope(&["a@example.test", "b@example.test"]);
    bad.mail_from = "bad@example.org";
    let outcomes = connection.send(&bad, b"x\r\n").await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Deferred { .. })),
        "{outcomes:?}"
    );
    let outcomes = connection
        .send(&envelope(&["a@example.test"]), b"x\r\n")
        .await
        .unwrap();
    assert!(
        matches!(outcomes[0], Outcome::Delivered { .. }),
        "{outcomes:?}"
    );
    connection.quit().await;
    let seen = server.await.unwrap();
    assert!(
        seen.contains(&"RSET".to_owned()),
        "RSET after the refusal: {seen:?}"
    );
    assert!(
        !seen.iter().any(|l| l.contains("BODY=8BITMIME")),
        "no 8BITMIME offered: {seen:?}"
    );
}

#[tokio::test]
async fn a_message_over_the_size_limit_fails_without_being_sent() {
    let (address, server) = server("250-test\r\n250 SIZE 10", |_| None).await;
    let mut connection = Connection::open(address, "sink", &params(), TlsPolicy::None, None, None)
        .await
        .unwrap();
    let outcomes = connection
        .send(&envelope(&["a@example.test"]), b"x\r\n")
        .await
        .unwrap();
    assert!(matches!(&outcomes[0], Outcome::Failed { reply } if reply.starts_with("552 5.3.4")));
    connection.quit().await;
    assert!(!server.await.unwrap().iter().any(|l| l.starts_with("MAIL")));
}

#[tokio::test]
async fn required_tls_without_starttls_is_an_error() {
    let (address, _server) = server("250 test", |_| None).await;
    let error = Connection::open(address, "sink", &params(), TlsPolicy::Required, None, None)
        .await
        .err()
        .unwrap();
    assert!(matches!(error, ClientError::TlsNotOffered), "{error}");
}

#[tokio::test]
async fn smtputf8_is_passed_on_or_the_message_fails_where_its_addresses_need_it() {
    let (address, peer) = server("250-test\r\n250 SMTPUTF8", |_| None).await;
    let mut connection = Connection::open(address, "sink", &params(), TlsPolicy::None, None, None)
        .await
        .unwrap();
    let mut utf8 = envelope(&["jörg@example.test"]);
    utf8.smtputf8 = true;
    let outcomes = connection.send(&utf8, b"x\r\n").await.unwrap();
    assert!(
        matches!(outcomes[0], Outcome::Delivered { .. }),
        "{outcomes:?}"
    );
    connection.quit().await;
    let seen = peer.await.unwrap();
    assert!(
        seen.contains(&"MAIL FROM:<alice@example.org> SMTPUTF8".to_owned()),
        "{seen:?}"
    );

    let (address, peer) = server("250 test", |_| None).await;
    let mut connection = Connection::open(address, "sink", &params(), TlsPolicy::None, None, None)
        .await
        .unwrap();
    let outcomes = connection.send(&utf8, b"x\r\n").await.unwrap();
    assert!(
        matches!(&outcomes[0], Outcome::Failed { reply } if reply.starts_with("553 5.6.7")),
        "{outcomes:?}"
    );
    let mut ascii = envelope(&["bob@example.test"]);
    ascii.smtputf8 = true;
    let outcomes = connection.send(&ascii, b"x\r\n").await.unwrap();
    assert!(
        matches!(outcomes[0], Outcome::Delivered { .. }),
        "ASCII addresses go without SMTPUTF8: {outcomes:?}"
    );
    connection.quit().await;
    let seen = peer.await.unwrap();
    assert!(!seen.iter().any(|l| l.contains("jörg")), "{seen:?}");
}

#[tokio::test]
async fn a_probe_asks_with_the_null_sender_and_never_sends_data() {
    let (address, server) = server("250-test\r\n250 PIPELINING", |line| {
        line.contains("nobody@")
            .then(|| "550 5.1.1 no such user".to_owned())
    })
    .await;
    let mut connection = Connection::open(address, "test", &params(), TlsPolicy::None, None, None)
        .await
        .unwrap();
    let known = connection
        .probe_recipient("bob@example.test")
        .await
        .unwrap();
    assert!(
        matches!(known, ProbeReply::Recipient(ref r) if r.code == 250),
        "{known:?}"
    );
    let unknown = connection
        .probe_recipient("nobody@example.test")
        .await
        .unwrap();
    assert!(
        matches!(unknown, ProbeReply::Recipient(ref r) if r.code == 550),
        "{unknown:?}"
    );
    assert_eq!(
        connection
            .probe_recipient("δοκιμή@example.test")
            .await
            .unwrap(),
        ProbeReply::NeedsSmtputf8,
        "nothing sent for an address the server cannot take"
    );
    connection.quit().await;
    let seen = server.await.unwrap();
    assert_eq!(
        seen,
        [
            "EHLO moat.test",
            "MAIL FROM:<>",
            "RCPT TO:<bob@example.test>",
            "RSET",
            "MAIL FROM:<>",
            "RCPT TO:<nobody@example.test>",
            "QUIT"
        ]
    );
}
