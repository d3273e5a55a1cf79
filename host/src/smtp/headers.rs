//! The header fields Moat adds to a message it accepts: `Received` (RFC 5321 §4.4) and,
//! for tagged messages, the spam verdict and its explanation.

use std::fmt::Write as _;

use crate::filter::Decision;
use crate::filter::pipeline::{ClientInfo, TlsInfo};

/// What the `Received` field records about the hop into Moat.
pub struct ReceivedFields<'a> {
    /// The client.
    pub client: &'a ClientInfo,
    /// Moat's host name.
    pub hostname: &'a str,
    /// `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA` (RFC 3848).
    pub protocol: &'a str,
    /// The session id, for correlating with the logs.
    pub id: &'a str,
    /// The single recipient, when there is exactly one (RFC 5321 `for` clause).
    pub single_recipient: Option<&'a str>,
    /// Unix time in seconds.
    pub now: i64,
}

/// The `Received:` field, folded, ending in CRLF.
pub fn received(fields: &ReceivedFields<'_>) -> String {
    let client = fields.client;
    let helo = client.helo.as_deref().unwrap_or("unknown");
    let rdns = client.reverse_dns.as_deref().unwrap_or("unknown");
    let ip = match client.ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("IPv6:{v6}"),
    };
    let mut out = format!(
        "Received: from {helo} ({rdns} [{ip}])\r\n\tby {} (Moat) with {}",
        fields.hostname, fields.protocol
    );
    if let Some(TlsInfo { version, cipher }) = &client.tls {
        let _ = write!(out, "\r\n\t(version={version} cipher={cipher})");
    }
    if let Some(user) = &client.authenticated_user {
        let _ = write!(out, "\r\n\t(authenticated as {user})");
    }
    let _ = write!(out, "\r\n\tid {}", fields.id);
    if let Some(rcpt) = fields.single_recipient {
        let _ = write!(out, "\r\n\tfor <{rcpt}>");
    }
    let date = mail_parser::DateTime::from_timestamp(fields.now).to_rfc822();
    let _ = write!(out, ";\r\n\t{date}\r\n");
    out
}

/// The `Date` and `Message-ID` fields a submitted message lacks, each ending in CRLF
/// (empty when it has both). RFC 5322 §3.6 requires a Date and expects a Message-ID, some
/// receivers refuse mail without them, and a mail client that leaves them to its
/// submission server (as RFC 6409 §8.2 and §8.3 allow) expects this one to add them, as
/// Postfix's cleanup does. `unique` makes the Message-ID's left part unique (random).
pub fn missing_origin_fields(
    has_date: bool,
    has_message_id: bool,
    hostname: &str,
    now: i64,
    unique: u64,
) -> String {
    let mut out = String::new();
    if !has_date {
        let date = mail_parser::DateTime::from_timestamp(now).to_rfc822();
        let _ = write!(out, "Date: {date}\r\n");
    }
    if !has_message_id {
        let _ = write!(out, "Message-ID: <{now:x}.{unique:016x}@{hostname}>\r\n");
    }
    out
}

/// `X-Spam`, `X-Spam-Score` and `X-Moat-Report` for a tagged message, ending in CRLF.
pub fn spam_headers(decision: &Decision) -> String {
    let mut report = String::new();
    for line in &decision.report {
        if !report.is_empty() {
            report.push_str(",\r\n\t");
        }
        let _ = write!(
            report,
            "{}.{}({:.2})",
            line.plugin, line.name, line.contribution
        );
    }
    format!(
        "X-Spam: Yes\r\nX-Spam-Score: {:.2}\r\nX-Moat-Report: action={} score={:.2}{}{report}\r\n",
        decision.score,
        decision.action.as_str(),
        decision.score,
        if report.is_empty() { "" } else { ";\r\n\t" }
    )
}

/// The top symbols of a decision, for a reject reply: `A, B, C`.
pub fn top_symbols(decision: &Decision, n: usize) -> String {
    let names: Vec<&str> = decision
        .report
        .iter()
        .filter(|l| l.contribution > 0.0)
        .take(n)
        .map(|l| l.name.as_str())
        .collect();
    if names.is_empty() {
        "policy".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn only_the_missing_origin_fields_are_added() {
        let both = missing_origin_fields(false, false, "mx.example.test", 1_764_000_000, 0xab);
        assert_eq!(
            both,
            "Date: Mon, 24 Nov 2025 16:00:00 +0000\r\n\
             Message-ID: <69248100.00000000000000ab@mx.example.test>\r\n"
        );
        assert!(missing_origin_fields(true, false, "h", 0, 1).starts_with("Message-ID: <0."));
        assert!(missing_origin_fields(false, true, "h", 0, 1).starts_with("Date: "));
        assert_eq!(missing_origin_fields(true, true, "h", 0, 1), "");
    }

    #[test]
    fn received_names_the_client_the_tls_session_and_the_recipient() {
        let client = ClientInfo {
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            port: 4000,
            reverse_dns: None,
            helo: Some("client.example".into()),
            tls: Some(TlsInfo {
                version: "TLSv1.3".into(),
                cipher: "TLS13_AES_128_GCM_SHA256".into(),
            }),
            authenticated_user: None,
        };
        let text = received(&ReceivedFields {
            client: &client,
            hostname: "mx.example.test",
            protocol: "ESMTPS",
            id: "s1.1",
            single_recipient: Some("bob@example.test"),
            now: 0,
        });
        assert!(text.starts_with("Received: from client.example (unknown [192.0.2.1])\r\n\tby mx.example.test (Moat) with ESMTPS"), "{text}");
        assert!(
            text.contains("version=TLSv1.3 cipher=TLS13_AES_128_GCM_SHA256"),
            "{text}"
        );
        assert!(text.contains("for <bob@example.test>;"), "{text}");
        assert!(text.ends_with("1970 00:00:00 +0000\r\n"), "{text}");
        assert!(
            text.lines().skip(1).all(|l| l.starts_with('\t')),
            "folded with tabs: {text}"
        );
    }
}
