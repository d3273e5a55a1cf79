use super::super::{
    AddressError, Command, CommandError, DomainError, ForwardPath, Mailbox, ParseContext,
    ReversePath, parse_command_with,
};

/// The recipient mailbox of `RCPT TO:{path}`, or why the path was refused.
fn rcpt(path: &str) -> Result<Mailbox, AddressError> {
    rcpt_in(path, false)
}

fn rcpt_in(path: &str, smtputf8: bool) -> Result<Mailbox, AddressError> {
    let line = format!("RCPT TO:{path}");
    match parse_command_with(line.as_bytes(), ParseContext { smtputf8 }) {
        Ok(Command::RcptTo {
            to: ForwardPath::Address(mailbox),
            ..
        }) => Ok(mailbox),
        Err(CommandError::InvalidAddress { reason }) => Err(reason),
        other => panic!("{path}: unexpected {other:?}"),
    }
}

fn mailbox(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local: local.to_owned(),
        domain: domain.to_owned(),
    }
}

#[test]
fn plain_addresses_keep_their_case() {
    assert_eq!(
        rcpt("<John.Doe@Example.ORG>"),
        Ok(mailbox("John.Doe", "Example.ORG"))
    );
}

#[test]
fn every_atext_character_is_allowed_in_a_dot_string() {
    let local = "a!#$%&'*+-/=?^_`{|}~z.0";
    assert_eq!(
        rcpt(&format!("<{local}@example.org>")),
        Ok(mailbox(local, "example.org"))
    );
}

#[test]
fn dot_strings_refuse_empty_atoms_and_specials() {
    for path in [
        "<.john@example.org>",
        "<john.@example.org>",
        "<john..doe@example.org>",
        "<jo hn@example.org>",
        "<jo(hn)@example.org>",
        "<jo,hn@example.org>",
        "<@example.org:@example.org>",
        "<\"\"@example.org>",
    ] {
        assert!(
            matches!(
                rcpt(path),
                Err(AddressError::InvalidLocalPart | AddressError::InvalidSourceRoute)
            ),
            "{path}: {:?}",
            rcpt(path)
        );
    }
}

#[test]
fn quoted_local_parts_are_unquoted() {
    assert_eq!(
        rcpt("<\"john..doe\"@example.org>"),
        Ok(mailbox("john..doe", "example.org"))
    );
    assert_eq!(
        rcpt("<\"john doe\"@example.org>"),
        Ok(mailbox("john doe", "example.org"))
    );
    assert_eq!(
        rcpt(r#"<"a\"b\\c"@example.org>"#),
        Ok(mailbox(r#"a"b\c"#, "example.org"))
    );
    assert_eq!(
        rcpt(r#"<"\j\o"@example.org>"#),
        Ok(mailbox("jo", "example.org"))
    );
    assert_eq!(
        rcpt("<\"a>b\"@example.org>"),
        Ok(mailbox("a>b", "example.org"))
    );
}

#[test]
fn a_quoted_at_sign_does_not_change_the_domain() {
    let parsed = rcpt("<\"user@other.example\"@example.org>");
    assert_eq!(parsed, Ok(mailbox("user@other.example", "example.org")));
    assert!(parsed.is_ok_and(|mailbox| mailbox.has_routing_characters()));
}

#[test]
fn an_unquoted_second_at_sign_is_refused() {
    assert_eq!(
        rcpt("<user@other.example@example.org>"),
        Err(AddressError::InvalidDomain(DomainError::InvalidName))
    );
}

#[test]
fn bad_quoted_strings_are_refused() {
    assert_eq!(
        rcpt("<\"unterminated@example.org>"),
        Err(AddressError::Unterminated)
    );
    assert_eq!(
        rcpt("<\"tab\there\"@example.org>"),
        Err(AddressError::InvalidLocalPart)
    );
    assert_eq!(
        rcpt("<\"a\"b@example.org>"),
        Err(AddressError::InvalidLocalPart)
    );
}

#[test]
fn percent_hack_and_bang_paths_parse_as_local_parts_flagged_for_relay_checks() {
    for (path, local) in [
        ("<user%other.example@example.org>", "user%other.example"),
        ("<other.example!user@example.org>", "other.example!user"),
    ] {
        let parsed = rcpt(path);
        assert_eq!(parsed, Ok(mailbox(local, "example.org")), "{path}");
        assert!(
            parsed.is_ok_and(|mailbox| mailbox.has_routing_characters()),
            "{path}"
        );
    }
    assert!(rcpt("<plain@example.org>").is_ok_and(|mailbox| !mailbox.has_routing_characters()));
}

#[test]
fn source_routes_are_accepted_and_ignored() {
    assert_eq!(
        rcpt("<@a.example,@b.example:user@c.example>"),
        Ok(mailbox("user", "c.example"))
    );
    assert_eq!(
        rcpt("<@a.example:user@c.example>"),
        Ok(mailbox("user", "c.example"))
    );
}

#[test]
fn malformed_source_routes_are_refused() {
    for path in [
        "<@a.example user@c.example>",
        "<@a.example,b.example:user@c.example>",
        "<@:user@c.example>",
        "<@a..example:user@c.example>",
        "<@a.example,@b.example>",
    ] {
        assert_eq!(rcpt(path), Err(AddressError::InvalidSourceRoute), "{path}");
    }
}

#[test]
fn address_literals_are_accepted_as_domains() {
    let parsed = rcpt("<root@[192.0.2.1]>");
    assert_eq!(parsed, Ok(mailbox("root", "[192.0.2.1]")));
    assert!(parsed.is_ok_and(|mailbox| mailbox.is_address_literal()));
    assert_eq!(
        rcpt("<root@[IPv6:2001:db8::1]>"),
        Ok(mailbox("root", "[IPv6:2001:db8::1]"))
    );
    assert_eq!(
        rcpt("<root@[1.2.3]>"),
        Err(AddressError::InvalidDomain(
            DomainError::InvalidAddressLiteral
        ))
    );
    assert_eq!(
        rcpt("<root@[01.2.3.4]>"),
        Err(AddressError::InvalidDomain(
            DomainError::InvalidAddressLiteral
        ))
    );
}

#[test]
fn domains_follow_the_ldh_rule_without_underscores() {
    for (path, error) in [
        ("<a@>", DomainError::Empty),
        ("<a@-x.example>", DomainError::InvalidName),
        ("<a@x-.example>", DomainError::InvalidName),
        ("<a@x_y.example>", DomainError::InvalidName),
        ("<a@.example>", DomainError::InvalidName),
        ("<a@example.>", DomainError::InvalidName),
    ] {
        assert_eq!(
            rcpt(path),
            Err(AddressError::InvalidDomain(error)),
            "{path}"
        );
    }
    assert_eq!(rcpt("<a@localhost>"), Ok(mailbox("a", "localhost")));
    assert_eq!(rcpt("<a@x--y.example>"), Ok(mailbox("a", "x--y.example")));
}

#[test]
fn length_limits_are_enforced_at_their_boundaries() {
    let local_64 = "l".repeat(64);
    assert!(rcpt(&format!("<{local_64}@example.org>")).is_ok());
    assert_eq!(
        rcpt(&format!("<{local_64}x@example.org>")),
        Err(AddressError::LocalPartTooLong)
    );
    // The limit counts the local part as sent, quotes included.
    let quoted_63 = format!("\"{}\"", "q".repeat(63));
    assert_eq!(
        rcpt(&format!("<{quoted_63}@example.org>")),
        Err(AddressError::LocalPartTooLong)
    );
    // `<` + 64 + `@` + 189 + `>` = 256 octets.
    let domain_189 = format!("{}.{}.{}", "d".repeat(63), "d".repeat(63), "d".repeat(61));
    assert_eq!(
        rcpt(&format!("<{local_64}@{domain_189}>")).map(|_| ()),
        Ok(())
    );
    assert_eq!(
        rcpt(&format!("<{local_64}@{domain_189}d>")),
        Err(AddressError::PathTooLong)
    );
}

#[test]
fn utf8_addresses_need_smtputf8_and_valid_utf8() {
    assert_eq!(rcpt("<j\u{f6}rg@example.org>"), Err(AddressError::NonAscii));
    assert_eq!(
        rcpt("<\"j\u{f6}rg\"@example.org>"),
        Err(AddressError::NonAscii)
    );
    assert_eq!(
        rcpt("<jorg@b\u{fc}cher.example>"),
        Err(AddressError::NonAscii)
    );
    assert_eq!(
        rcpt_in("<j\u{f6}rg@example.org>", true),
        Ok(mailbox("j\u{f6}rg", "example.org"))
    );
    assert_eq!(
        rcpt_in("<\"j \u{f6}rg\"@example.org>", true),
        Ok(mailbox("j \u{f6}rg", "example.org"))
    );
    let line = b"RCPT TO:<j\xf6rg@example.org>";
    assert_eq!(
        parse_command_with(line, ParseContext { smtputf8: true }),
        Err(CommandError::InvalidAddress {
            reason: AddressError::InvalidUtf8
        })
    );
}

#[test]
fn mailboxes_display_requoted_when_needed() {
    for (local, shown) in [
        ("john", "john@example.org"),
        ("john.doe", "john.doe@example.org"),
        ("john..doe", "\"john..doe\"@example.org"),
        ("john doe", "\"john doe\"@example.org"),
        ("a\"b\\c", "\"a\\\"b\\\\c\"@example.org"),
        ("user@other", "\"user@other\"@example.org"),
        ("j\u{f6}rg", "j\u{f6}rg@example.org"),
    ] {
        assert_eq!(mailbox(local, "example.org").to_string(), shown, "{local}");
    }
}

#[test]
fn displayed_mailboxes_parse_back_to_themselves() {
    for path in [
        "<\"john..doe\"@example.org>",
        r#"<"a\"b\\c"@example.org>"#,
        "<\"a b\"@[192.0.2.1]>",
        "<x@example.org>",
    ] {
        let parsed = rcpt(path).unwrap_or_else(|error| panic!("{path}: {error}"));
        assert_eq!(rcpt(&format!("<{parsed}>")), Ok(parsed), "{path}");
    }
}

#[test]
fn paths_display_with_brackets() {
    assert_eq!(ReversePath::Null.to_string(), "<>");
    assert_eq!(ForwardPath::Postmaster.to_string(), "<postmaster>");
    let address = mailbox("a", "b.example");
    assert_eq!(
        ReversePath::Address(address.clone()).to_string(),
        "<a@b.example>"
    );
    assert_eq!(
        ForwardPath::Address(address.clone()).mailbox(),
        Some(&address)
    );
    assert_eq!(ReversePath::Null.mailbox(), None);
}
