use super::super::{
    AddressError, Command, CommandError, DomainError, ForwardPath, MailParams, Mailbox,
    ParseContext, RcptParams, ReversePath, parse_command, parse_command_with,
};

fn parse(line: &str) -> Result<Command, CommandError> {
    parse_command(line.as_bytes())
}

fn syntax(reason: &'static str) -> Result<Command, CommandError> {
    Err(CommandError::Syntax { reason })
}

fn mailbox(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local: local.to_owned(),
        domain: domain.to_owned(),
    }
}

#[test]
fn verbs_are_case_insensitive() {
    for line in ["QUIT", "quit", "Quit", "qUiT"] {
        assert_eq!(parse(line), Ok(Command::Quit), "{line}");
    }
    assert_eq!(parse("starttls"), Ok(Command::StartTls));
    assert_eq!(
        parse("ehlo mx.example.org"),
        Ok(Command::Ehlo("mx.example.org".into()))
    );
}

#[test]
fn commands_without_arguments_parse_and_refuse_arguments() {
    for (verb, command) in [
        ("DATA", Command::Data),
        ("RSET", Command::Rset),
        ("QUIT", Command::Quit),
        ("STARTTLS", Command::StartTls),
    ] {
        assert_eq!(parse(verb), Ok(command), "{verb}");
        assert_eq!(
            parse(&format!("{verb} now")),
            syntax("this command takes no arguments"),
            "{verb}"
        );
    }
}

#[test]
fn surrounding_whitespace_is_ignored() {
    assert_eq!(parse("  QUIT \t "), Ok(Command::Quit));
    assert_eq!(parse("DATA   "), Ok(Command::Data));
}

#[test]
fn noop_ignores_its_argument() {
    assert_eq!(parse("NOOP"), Ok(Command::Noop));
    assert_eq!(parse("NOOP anything at all"), Ok(Command::Noop));
}

#[test]
fn help_takes_an_optional_topic() {
    assert_eq!(parse("HELP"), Ok(Command::Help(String::new())));
    assert_eq!(parse("HELP MAIL"), Ok(Command::Help("MAIL".into())));
}

#[test]
fn vrfy_and_expn_require_an_argument() {
    assert_eq!(parse("VRFY john"), Ok(Command::Vrfy("john".into())));
    assert_eq!(
        parse("EXPN staff list"),
        Ok(Command::Expn("staff list".into()))
    );
    assert_eq!(parse("VRFY"), syntax("an argument is required"));
    assert_eq!(parse("EXPN "), syntax("an argument is required"));
}

#[test]
fn free_text_arguments_must_be_utf8_without_controls() {
    assert_eq!(
        parse_command(b"VRFY \xff\xfe"),
        syntax("arguments are not valid UTF-8")
    );
    assert_eq!(
        parse_command(b"HELP a\x07b"),
        syntax("control characters in the arguments")
    );
    assert_eq!(
        parse("VRFY jos\u{e9}"),
        Ok(Command::Vrfy("jos\u{e9}".into()))
    );
}

#[test]
fn ehlo_and_helo_accept_domains_and_address_literals() {
    for argument in [
        "mx.example.org",
        "localhost",
        "a-b.example",
        "[192.0.2.1]",
        "[IPv6:2001:db8::1]",
        "[ipv6:::1]",
        "[IPv6:::ffff:192.0.2.1]",
        "DESKTOP_4F2A.corp.example",
        "192.0.2.1",
    ] {
        assert_eq!(
            parse(&format!("EHLO {argument}")),
            Ok(Command::Ehlo(argument.into())),
            "{argument}"
        );
        assert_eq!(
            parse(&format!("HELO {argument}")),
            Ok(Command::Helo(argument.into())),
            "{argument}"
        );
    }
}

#[test]
fn ehlo_requires_a_valid_argument() {
    assert_eq!(
        parse("EHLO"),
        syntax("a domain or address literal is required")
    );
    assert_eq!(
        parse("HELO   "),
        syntax("a domain or address literal is required")
    );
    let invalid = |reason| Err(CommandError::InvalidHelo { reason });
    for (argument, reason) in [
        ("-bad.example", DomainError::InvalidName),
        ("bad-.example", DomainError::InvalidName),
        ("a..example", DomainError::InvalidName),
        ("example.", DomainError::InvalidName),
        ("two words", DomainError::InvalidName),
        ("user@example.org", DomainError::InvalidName),
        ("[192.0.2.256]", DomainError::InvalidAddressLiteral),
        ("[192.0.2.1", DomainError::InvalidAddressLiteral),
        ("[IPv6:2001:db8::g]", DomainError::InvalidAddressLiteral),
        ("[x-tag:anything]", DomainError::InvalidAddressLiteral),
        ("b\u{fc}cher.example", DomainError::NonAscii),
    ] {
        assert_eq!(
            parse(&format!("EHLO {argument}")),
            invalid(reason),
            "{argument}"
        );
    }
    let long_label = "a".repeat(64);
    assert_eq!(
        parse(&format!("EHLO {long_label}.example")),
        invalid(DomainError::LabelTooLong)
    );
    let long_domain = ["abcdefghi"; 26].join(".");
    assert_eq!(
        parse(&format!("EHLO {long_domain}")),
        invalid(DomainError::TooLong)
    );
}

#[test]
fn mail_from_parses_a_sender_and_no_parameters() {
    assert_eq!(
        parse("MAIL FROM:<john@example.org>"),
        Ok(Command::MailFrom {
            from: ReversePath::Address(mailbox("john", "example.org")),
            params: MailParams::default(),
        })
    );
}

#[test]
fn mail_from_accepts_the_null_path() {
    assert_eq!(
        parse("MAIL FROM:<>"),
        Ok(Command::MailFrom {
            from: ReversePath::Null,
            params: MailParams::default(),
        })
    );
}

#[test]
fn mail_from_tolerates_spaces_after_the_colon_and_any_case() {
    for line in [
        "MAIL FROM: <john@example.org>",
        "mail from:   <john@example.org>",
        "Mail  From:<john@example.org>  ",
    ] {
        let Ok(Command::MailFrom { from, .. }) = parse(line) else {
            panic!("{line} did not parse");
        };
        assert_eq!(
            from,
            ReversePath::Address(mailbox("john", "example.org")),
            "{line}"
        );
    }
}

#[test]
fn mail_needs_from_and_a_bracketed_path() {
    assert_eq!(parse("MAIL"), syntax("expected FROM:<address>"));
    assert_eq!(
        parse("MAIL TO:<a@b.example>"),
        syntax("expected FROM:<address>")
    );
    assert_eq!(
        parse("MAIL FROM <a@b.example>"),
        syntax("expected FROM:<address>")
    );
    let invalid = |reason| Err(CommandError::InvalidAddress { reason });
    assert_eq!(parse("MAIL FROM:"), invalid(AddressError::Missing));
    assert_eq!(
        parse("MAIL FROM:a@b.example"),
        invalid(AddressError::MissingAngleBrackets)
    );
    assert_eq!(
        parse("MAIL FROM:a@b.example SIZE=10"),
        invalid(AddressError::MissingAngleBrackets)
    );
    assert_eq!(
        parse("MAIL FROM:<a@b.example"),
        invalid(AddressError::Unterminated)
    );
    assert_eq!(
        parse("MAIL FROM:<postmaster>"),
        invalid(AddressError::MissingDomain)
    );
}

#[test]
fn text_glued_to_the_path_is_a_syntax_error() {
    assert_eq!(
        parse("MAIL FROM:<a@b.example>SIZE=10"),
        syntax("unexpected text after the address")
    );
    assert_eq!(
        parse("RCPT TO:<a@b.example>x"),
        syntax("unexpected text after the address")
    );
}

#[test]
fn rcpt_to_parses_a_recipient() {
    assert_eq!(
        parse("RCPT TO:<jane@example.net>"),
        Ok(Command::RcptTo {
            to: ForwardPath::Address(mailbox("jane", "example.net")),
            params: RcptParams::default(),
        })
    );
    assert_eq!(
        parse("rcpt to: <jane@example.net>"),
        Ok(Command::RcptTo {
            to: ForwardPath::Address(mailbox("jane", "example.net")),
            params: RcptParams::default(),
        })
    );
}

#[test]
fn rcpt_to_accepts_domainless_postmaster_in_any_case() {
    for line in [
        "RCPT TO:<postmaster>",
        "RCPT TO:<Postmaster>",
        "RCPT TO:<POSTMASTER>",
    ] {
        assert_eq!(
            parse(line),
            Ok(Command::RcptTo {
                to: ForwardPath::Postmaster,
                params: RcptParams::default(),
            }),
            "{line}"
        );
    }
}

#[test]
fn rcpt_to_refuses_the_null_path_and_other_domainless_names() {
    let invalid = |reason| Err(CommandError::InvalidAddress { reason });
    assert_eq!(parse("RCPT TO:<>"), invalid(AddressError::NullRecipient));
    assert_eq!(
        parse("RCPT TO:<root>"),
        invalid(AddressError::MissingDomain)
    );
    assert_eq!(
        parse("RCPT TO:<\"postmaster\">"),
        invalid(AddressError::MissingDomain)
    );
    assert_eq!(
        parse("RCPT FROM:<a@b.example>"),
        syntax("expected TO:<address>")
    );
}

#[test]
fn rcpt_to_allows_utf8_only_in_an_smtputf8_transaction() {
    let line = "RCPT TO:<j\u{f6}rg@b\u{fc}cher.example>".as_bytes();
    assert_eq!(
        parse_command(line),
        Err(CommandError::InvalidAddress {
            reason: AddressError::NonAscii
        })
    );
    let context = ParseContext { smtputf8: true };
    assert_eq!(
        parse_command_with(line, context),
        Ok(Command::RcptTo {
            to: ForwardPath::Address(mailbox("j\u{f6}rg", "b\u{fc}cher.example")),
            params: RcptParams::default(),
        })
    );
}

#[test]
fn mail_from_allows_utf8_when_it_carries_smtputf8() {
    let line = "MAIL FROM:<\u{7528}\u{6237}@\u{4f8b}\u{5b50}.example>";
    assert_eq!(
        parse(line),
        Err(CommandError::InvalidAddress {
            reason: AddressError::NonAscii
        })
    );
    let Ok(Command::MailFrom { from, params }) = parse(&format!("{line} SMTPUTF8")) else {
        panic!("did not parse with SMTPUTF8");
    };
    assert!(params.smtputf8);
    assert_eq!(
        from,
        ReversePath::Address(mailbox("\u{7528}\u{6237}", "\u{4f8b}\u{5b50}.example"))
    );
}

#[test]
fn bdat_takes_a_size_and_an_optional_last() {
    assert_eq!(
        parse("BDAT 100"),
        Ok(Command::Bdat {
            size: 100,
            last: false
        })
    );
    assert_eq!(
        parse("BDAT 0 LAST"),
        Ok(Command::Bdat {
            size: 0,
            last: true
        })
    );
    assert_eq!(
        parse("bdat 7 last"),
        Ok(Command::Bdat {
            size: 7,
            last: true
        })
    );
    assert_eq!(
        parse("BDAT 18446744073709551615 LAST"),
        Ok(Command::Bdat {
            size: u64::MAX,
            last: true
        })
    );
}

#[test]
fn bdat_refuses_bad_sizes_and_extra_words() {
    for line in [
        "BDAT",
        "BDAT LAST",
        "BDAT -1",
        "BDAT +5",
        "BDAT 1e3",
        "BDAT 18446744073709551616",
    ] {
        assert_eq!(parse(line), syntax("BDAT needs a chunk size"), "{line}");
    }
    for line in ["BDAT 5 FIRST", "BDAT 5 LAST now"] {
        assert_eq!(
            parse(line),
            syntax("BDAT takes a size and optionally LAST"),
            "{line}"
        );
    }
}

#[test]
fn auth_takes_a_mechanism_and_an_optional_initial_response() {
    assert_eq!(
        parse("AUTH login"),
        Ok(Command::Auth {
            mechanism: "LOGIN".into(),
            initial_response: None
        })
    );
    assert_eq!(
        parse("AUTH PLAIN AGpvaG4Ac2VjcmV0"),
        Ok(Command::Auth {
            mechanism: "PLAIN".into(),
            initial_response: Some("AGpvaG4Ac2VjcmV0".into())
        })
    );
    assert_eq!(
        parse("AUTH PLAIN ="),
        Ok(Command::Auth {
            mechanism: "PLAIN".into(),
            initial_response: Some("=".into())
        })
    );
    assert_eq!(
        parse("AUTH SCRAM-SHA-256"),
        Ok(Command::Auth {
            mechanism: "SCRAM-SHA-256".into(),
            initial_response: None
        })
    );
}

#[test]
fn auth_refuses_bad_mechanisms_and_responses() {
    assert_eq!(parse("AUTH"), syntax("AUTH needs a mechanism name"));
    assert_eq!(parse("AUTH PL@IN"), syntax("AUTH needs a mechanism name"));
    assert_eq!(
        parse("AUTH ABCDEFGHIJKLMNOPQRSTU"),
        syntax("AUTH needs a mechanism name")
    );
    assert_eq!(
        parse("AUTH PLAIN not*base64"),
        syntax("initial response is not base64")
    );
    assert_eq!(
        parse("AUTH PLAIN abc def"),
        syntax("AUTH takes a mechanism and an initial response")
    );
}

#[test]
fn unknown_verbs_are_reported_sanitised_and_short() {
    assert_eq!(
        parse("GET / HTTP/1.1"),
        Err(CommandError::UnknownCommand { verb: "GET".into() })
    );
    assert_eq!(
        parse("XCLIENT ADDR=192.0.2.1"),
        Err(CommandError::UnknownCommand {
            verb: "XCLIENT".into()
        })
    );
    assert_eq!(
        parse_command(b"\x1b[31mRED\xff"),
        Err(CommandError::UnknownCommand {
            verb: "?[31mRED?".into()
        })
    );
    let long = "X".repeat(100);
    assert_eq!(
        parse(&long),
        Err(CommandError::UnknownCommand {
            verb: "X".repeat(16)
        })
    );
    assert_eq!(
        parse("STARTTLSX"),
        Err(CommandError::UnknownCommand {
            verb: "STARTTLSX".into()
        })
    );
}

#[test]
fn empty_lines_and_nul_bytes_are_their_own_errors() {
    assert_eq!(parse(""), Err(CommandError::Empty));
    assert_eq!(parse("   "), Err(CommandError::Empty));
    assert_eq!(parse_command(b"QUIT\0"), Err(CommandError::ContainsNul));
    assert_eq!(
        parse_command(b"MAIL FROM:<a\0@b.example>"),
        Err(CommandError::ContainsNul)
    );
}

#[test]
fn errors_display_as_short_phrases_naming_the_value() {
    let error = CommandError::UnknownParameter { name: "FOO".into() };
    assert_eq!(error.to_string(), "unknown parameter FOO");
    let error = CommandError::InvalidAddress {
        reason: AddressError::InvalidDomain(DomainError::InvalidName),
    };
    assert_eq!(
        error.to_string(),
        "invalid address: invalid domain: invalid domain name"
    );
}
