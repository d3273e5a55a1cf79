use super::super::{
    Body, Command, CommandError, MailParams, ParseContext, RcptParams, parse_command,
    parse_command_with,
};

fn mail_params(parameters: &str) -> Result<MailParams, CommandError> {
    let line = format!("MAIL FROM:<a@b.example> {parameters}");
    parse_command(line.as_bytes()).map(|command| match command {
        Command::MailFrom { params, .. } => params,
        other => panic!("not MAIL: {other:?}"),
    })
}

fn rcpt_params(parameters: &str) -> Result<RcptParams, CommandError> {
    let line = format!("RCPT TO:<a@b.example> {parameters}");
    parse_command(line.as_bytes()).map(|command| match command {
        Command::RcptTo { params, .. } => params,
        other => panic!("not RCPT: {other:?}"),
    })
}

fn invalid<T>(name: &'static str, reason: &'static str) -> Result<T, CommandError> {
    Err(CommandError::InvalidParameter { name, reason })
}

#[test]
fn mail_parameters_all_parse_together_in_any_case() {
    assert_eq!(
        mail_params("size=12345 BODY=8bitmime SMTPUTF8 AUTH=<> RET=hdrs ENVID=QQ314159"),
        Ok(MailParams {
            size: Some(12345),
            body: Some(Body::EightBitMime),
            smtputf8: true,
            auth: Some("<>".into()),
            ret: Some("HDRS".into()),
            envid: Some("QQ314159".into()),
        })
    );
}

#[test]
fn runs_of_spaces_between_parameters_are_tolerated() {
    assert_eq!(
        mail_params("SIZE=1   BODY=7BIT  "),
        Ok(MailParams {
            size: Some(1),
            body: Some(Body::SevenBit),
            ..MailParams::default()
        })
    );
}

#[test]
fn size_must_be_a_number_in_range() {
    assert_eq!(mail_params("SIZE=0").map(|p| p.size), Ok(Some(0)));
    assert_eq!(
        mail_params("SIZE=18446744073709551615").map(|p| p.size),
        Ok(Some(u64::MAX))
    );
    assert_eq!(mail_params("SIZE"), invalid("SIZE", "requires a value"));
    assert_eq!(mail_params("SIZE="), invalid("SIZE", "requires a value"));
    assert_eq!(mail_params("SIZE=12k"), invalid("SIZE", "not a number"));
    assert_eq!(mail_params("SIZE=-1"), invalid("SIZE", "not a number"));
    assert_eq!(
        mail_params("SIZE=18446744073709551616"),
        invalid("SIZE", "out of range")
    );
}

#[test]
fn body_knows_its_three_values() {
    assert_eq!(
        mail_params("BODY=7BIT").map(|p| p.body),
        Ok(Some(Body::SevenBit))
    );
    assert_eq!(
        mail_params("BODY=BinaryMIME").map(|p| p.body),
        Ok(Some(Body::BinaryMime))
    );
    assert_eq!(
        mail_params("BODY=8BIT"),
        invalid("BODY", "must be 7BIT, 8BITMIME or BINARYMIME")
    );
}

#[test]
fn smtputf8_takes_no_value() {
    assert_eq!(mail_params("smtputf8").map(|p| p.smtputf8), Ok(true));
    assert_eq!(
        mail_params("SMTPUTF8=yes"),
        invalid("SMTPUTF8", "takes no value")
    );
}

#[test]
fn xtext_values_are_checked_and_kept_as_sent() {
    assert_eq!(
        mail_params("AUTH=john+2Bdoe@example.org").map(|p| p.auth),
        Ok(Some("john+2Bdoe@example.org".into()))
    );
    assert_eq!(mail_params("AUTH=a+2"), invalid("AUTH", "not valid xtext"));
    assert_eq!(mail_params("AUTH=a+ZZ"), invalid("AUTH", "not valid xtext"));
    assert_eq!(
        mail_params("ENVID=a\u{e9}"),
        invalid("ENVID", "not valid xtext")
    );
    assert_eq!(
        mail_params("ENVID=a\u{e9} SMTPUTF8").map(|p| p.envid),
        Ok(Some("a\u{e9}".into()))
    );
    let long = "x".repeat(101);
    assert_eq!(
        mail_params(&format!("ENVID={long}")),
        invalid("ENVID", "longer than 100 characters")
    );
}

#[test]
fn ret_is_full_or_hdrs() {
    assert_eq!(
        mail_params("RET=full").map(|p| p.ret),
        Ok(Some("FULL".into()))
    );
    assert_eq!(
        mail_params("RET=BODY"),
        invalid("RET", "must be FULL or HDRS")
    );
}

#[test]
fn unknown_parameters_get_their_own_error() {
    for (parameters, name) in [
        ("FOO=bar", "FOO"),
        ("x-custom", "X-CUSTOM"),
        ("NOTIFY=NEVER", "NOTIFY"),
        ("MT-PRIORITY=3", "MT-PRIORITY"),
    ] {
        assert_eq!(
            mail_params(parameters),
            Err(CommandError::UnknownParameter { name: name.into() }),
            "{parameters}"
        );
    }
    assert_eq!(
        rcpt_params("SIZE=10"),
        Err(CommandError::UnknownParameter {
            name: "SIZE".into()
        })
    );
}

#[test]
fn malformed_parameter_keywords_are_syntax_errors() {
    for parameters in ["=10", "-X=1", "S:ZE=1", "<junk>"] {
        assert_eq!(
            mail_params(parameters),
            Err(CommandError::Syntax {
                reason: "malformed ESMTP parameter"
            }),
            "{parameters}"
        );
    }
}

#[test]
fn duplicate_parameters_are_refused() {
    for (parameters, name) in [
        ("SIZE=1 SIZE=2", "SIZE"),
        ("BODY=7BIT body=8BITMIME", "BODY"),
        ("SMTPUTF8 SMTPUTF8", "SMTPUTF8"),
        ("RET=FULL RET=FULL", "RET"),
    ] {
        assert_eq!(
            mail_params(parameters),
            Err(CommandError::DuplicateParameter { name }),
            "{parameters}"
        );
    }
    assert_eq!(
        rcpt_params("NOTIFY=NEVER NOTIFY=NEVER"),
        Err(CommandError::DuplicateParameter { name: "NOTIFY" })
    );
}

#[test]
fn rcpt_parameters_parse_notify_and_orcpt() {
    assert_eq!(
        rcpt_params("notify=success,delay ORCPT=rfc822;jane+40example.net"),
        Ok(RcptParams {
            notify: Some("SUCCESS,DELAY".into()),
            orcpt: Some("rfc822;jane+40example.net".into()),
        })
    );
    assert_eq!(
        rcpt_params("NOTIFY=never").map(|p| p.notify),
        Ok(Some("NEVER".into()))
    );
}

#[test]
fn notify_refuses_unknown_repeated_or_mixed_never_values() {
    let reason = "must be NEVER or a list of SUCCESS, FAILURE, DELAY";
    assert_eq!(rcpt_params("NOTIFY=SOMETIMES"), invalid("NOTIFY", reason));
    assert_eq!(
        rcpt_params("NOTIFY=SUCCESS,SUCCESS"),
        invalid("NOTIFY", reason)
    );
    assert_eq!(rcpt_params("NOTIFY=SUCCESS,"), invalid("NOTIFY", reason));
    assert_eq!(
        rcpt_params("NOTIFY=NEVER,DELAY"),
        invalid("NOTIFY", "NEVER cannot be combined")
    );
}

#[test]
fn orcpt_needs_an_address_type_and_an_xtext_address() {
    assert_eq!(
        rcpt_params("ORCPT=jane@example.net"),
        invalid("ORCPT", "must be addr-type;address")
    );
    assert_eq!(
        rcpt_params("ORCPT=;jane@example.net"),
        invalid("ORCPT", "invalid address type")
    );
    assert_eq!(
        rcpt_params("ORCPT=rfc822;"),
        invalid("ORCPT", "requires a value")
    );
    assert_eq!(
        rcpt_params("ORCPT=rfc822;a+zz"),
        invalid("ORCPT", "not valid xtext")
    );
    let long = "x".repeat(500);
    assert_eq!(
        rcpt_params(&format!("ORCPT=rfc822;{long}")),
        invalid("ORCPT", "longer than 500 characters")
    );
}

#[test]
fn orcpt_allows_utf8_only_in_an_smtputf8_transaction() {
    let line = "RCPT TO:<a@b.example> ORCPT=utf-8;j\u{f6}rg@example.org";
    assert_eq!(
        parse_command(line.as_bytes()),
        invalid("ORCPT", "not valid xtext")
    );
    let parsed = parse_command_with(line.as_bytes(), ParseContext { smtputf8: true });
    let Ok(Command::RcptTo { params, .. }) = parsed else {
        panic!("did not parse: {parsed:?}");
    };
    assert_eq!(params.orcpt, Some("utf-8;j\u{f6}rg@example.org".into()));
}
