//! ESMTP parameters of `MAIL FROM` and `RCPT TO` (RFC 5321 §4.1.2 `Mail-parameters`,
//! `Rcpt-parameters`). Only the parameters of extensions Moat may advertise are known; any
//! other is [`CommandError::UnknownParameter`] (`555 5.5.4`, RFC 5321 §4.1.1.11). Whether an
//! extension is actually advertised on this listener is the session's check.

use super::command::CommandError;

/// `BODY=` (RFC 6152 §2, RFC 3030 §3): how the message content is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `BODY=7BIT`: plain RFC 5322 text.
    SevenBit,
    /// `BODY=8BITMIME`: lines may hold 8-bit bytes (RFC 6152).
    EightBitMime,
    /// `BODY=BINARYMIME`: arbitrary bytes, only with BDAT (RFC 3030 §3).
    BinaryMime,
}

/// The parameters of a `MAIL FROM` command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=n` (RFC 1870): the client's estimate of the message size in octets.
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152, RFC 3030).
    pub body: Option<Body>,
    /// `SMTPUTF8` (RFC 6531): addresses and headers may be UTF-8.
    pub smtputf8: bool,
    /// `AUTH=` (RFC 4954 §5): the submitter identity, as sent (xtext, or `<>`).
    pub auth: Option<String>,
    /// `RET=` (RFC 3461 §4.3): `FULL` or `HDRS`, uppercased.
    pub ret: Option<String>,
    /// `ENVID=` (RFC 3461 §4.4): the envelope identifier, as sent (xtext).
    pub envid: Option<String>,
}

/// The parameters of a `RCPT TO` command (RFC 3461 §4.1, §4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// `NOTIFY=`: `NEVER`, or a comma-separated list of `SUCCESS`, `FAILURE`, `DELAY`;
    /// uppercased.
    pub notify: Option<String>,
    /// `ORCPT=addr-type;xtext`: the original recipient, as sent.
    pub orcpt: Option<String>,
}

/// RFC 3461 §4.4: ENVID is at most 100 characters.
const MAX_ENVID: usize = 100;
/// RFC 3461 §4.2: ORCPT is at most 500 characters.
const MAX_ORCPT: usize = 500;

/// One `keyword[=value]` token.
struct Param<'a> {
    keyword: &'a [u8],
    value: Option<&'a [u8]>,
}

/// Parses the space-separated parameters after the path of `MAIL FROM`. `SMTPUTF8` among
/// them allows UTF-8 in the values of the others.
pub(crate) fn parse_mail_params(text: &[u8]) -> Result<MailParams, CommandError> {
    let params = split(text)?;
    let smtputf8 = params
        .iter()
        .any(|param| param.keyword.eq_ignore_ascii_case(b"SMTPUTF8"));
    let mut parsed = MailParams::default();
    for param in &params {
        let keyword = param.keyword.to_ascii_uppercase();
        match keyword.as_slice() {
            b"SIZE" => set(&mut parsed.size, "SIZE", parse_size(param.value)?)?,
            b"BODY" => set(&mut parsed.body, "BODY", parse_body(param.value)?)?,
            b"SMTPUTF8" => {
                if param.value.is_some() {
                    return Err(invalid("SMTPUTF8", "takes no value"));
                }
                if parsed.smtputf8 {
                    return Err(CommandError::DuplicateParameter { name: "SMTPUTF8" });
                }
                parsed.smtputf8 = true;
            }
            b"AUTH" => set(
                &mut parsed.auth,
                "AUTH",
                parse_xtext("AUTH", param.value, smtputf8)?,
            )?,
            b"RET" => set(&mut parsed.ret, "RET", parse_ret(param.value)?)?,
            b"ENVID" => {
                let envid = parse_xtext("ENVID", param.value, smtputf8)?;
                if envid.len() > MAX_ENVID {
                    return Err(invalid("ENVID", "longer than 100 characters"));
                }
                set(&mut parsed.envid, "ENVID", envid)?;
            }
            _ => return Err(unknown(param.keyword)),
        }
    }
    Ok(parsed)
}

/// Parses the space-separated parameters after the path of `RCPT TO`; `smtputf8` says
/// whether the transaction's `MAIL FROM` carried `SMTPUTF8`.
pub(crate) fn parse_rcpt_params(text: &[u8], smtputf8: bool) -> Result<RcptParams, CommandError> {
    let mut parsed = RcptParams::default();
    for param in split(text)? {
        let keyword = param.keyword.to_ascii_uppercase();
        match keyword.as_slice() {
            b"NOTIFY" => set(&mut parsed.notify, "NOTIFY", parse_notify(param.value)?)?,
            b"ORCPT" => set(
                &mut parsed.orcpt,
                "ORCPT",
                parse_orcpt(param.value, smtputf8)?,
            )?,
            _ => return Err(unknown(param.keyword)),
        }
    }
    Ok(parsed)
}

/// Splits on runs of spaces; each token is `esmtp-keyword ["=" esmtp-value]`.
fn split(text: &[u8]) -> Result<Vec<Param<'_>>, CommandError> {
    text.split(|&byte| byte == b' ')
        .filter(|token| !token.is_empty())
        .map(|token| {
            let (keyword, value) = match token.iter().position(|&byte| byte == b'=') {
                Some(at) => (&token[..at], Some(&token[at + 1..])),
                None => (token, None),
            };
            // RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
            let keyword_ok = keyword.first().is_some_and(u8::is_ascii_alphanumeric)
                && keyword
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-');
            if keyword_ok {
                Ok(Param { keyword, value })
            } else {
                Err(CommandError::Syntax {
                    reason: "malformed ESMTP parameter",
                })
            }
        })
        .collect()
}

fn set<T>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), CommandError> {
    if slot.is_some() {
        return Err(CommandError::DuplicateParameter { name });
    }
    *slot = Some(value);
    Ok(())
}

fn unknown(keyword: &[u8]) -> CommandError {
    CommandError::UnknownParameter {
        name: String::from_utf8_lossy(keyword).to_ascii_uppercase(),
    }
}

fn invalid(name: &'static str, reason: &'static str) -> CommandError {
    CommandError::InvalidParameter { name, reason }
}

fn required<'a>(name: &'static str, value: Option<&'a [u8]>) -> Result<&'a [u8], CommandError> {
    match value {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(invalid(name, "requires a value")),
    }
}

/// RFC 1870 §3: `size-value = 1*20DIGIT`.
fn parse_size(value: Option<&[u8]>) -> Result<u64, CommandError> {
    let digits = required("SIZE", value)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid("SIZE", "not a number"));
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| invalid("SIZE", "out of range"))
}

fn parse_body(value: Option<&[u8]>) -> Result<Body, CommandError> {
    let value = required("BODY", value)?.to_ascii_uppercase();
    match value.as_slice() {
        b"7BIT" => Ok(Body::SevenBit),
        b"8BITMIME" => Ok(Body::EightBitMime),
        b"BINARYMIME" => Ok(Body::BinaryMime),
        _ => Err(invalid("BODY", "must be 7BIT, 8BITMIME or BINARYMIME")),
    }
}

fn parse_ret(value: Option<&[u8]>) -> Result<String, CommandError> {
    let value = required("RET", value)?.to_ascii_uppercase();
    match value.as_slice() {
        b"FULL" => Ok("FULL".to_owned()),
        b"HDRS" => Ok("HDRS".to_owned()),
        _ => Err(invalid("RET", "must be FULL or HDRS")),
    }
}

/// RFC 3461 §4.1: `"NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" )`.
fn parse_notify(value: Option<&[u8]>) -> Result<String, CommandError> {
    let value = required("NOTIFY", value)?.to_ascii_uppercase();
    let mut seen = Vec::new();
    for item in value.split(|&byte| byte == b',') {
        let known = matches!(item, b"NEVER" | b"SUCCESS" | b"FAILURE" | b"DELAY");
        if !known || seen.contains(&item) {
            return Err(invalid(
                "NOTIFY",
                "must be NEVER or a list of SUCCESS, FAILURE, DELAY",
            ));
        }
        seen.push(item);
    }
    if seen.contains(&&b"NEVER"[..]) && seen.len() > 1 {
        return Err(invalid("NOTIFY", "NEVER cannot be combined"));
    }
    Ok(String::from_utf8_lossy(&value).into_owned())
}

/// RFC 3461 §4.2: `addr-type ";" xtext`, with UTF-8 allowed under SMTPUTF8 (RFC 6533 §3).
fn parse_orcpt(value: Option<&[u8]>, smtputf8: bool) -> Result<String, CommandError> {
    let value = required("ORCPT", value)?;
    if value.len() > MAX_ORCPT {
        return Err(invalid("ORCPT", "longer than 500 characters"));
    }
    let (addr_type, address) = value
        .iter()
        .position(|&byte| byte == b';')
        .map(|at| (&value[..at], &value[at + 1..]))
        .ok_or_else(|| invalid("ORCPT", "must be addr-type;address"))?;
    let type_ok = !addr_type.is_empty()
        && addr_type
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-');
    if !type_ok {
        return Err(invalid("ORCPT", "invalid address type"));
    }
    parse_xtext("ORCPT", Some(address), smtputf8)?;
    text("ORCPT", value)
}

/// RFC 3461 §4: `xtext = *( xchar / hexchar )`, xchar being printable ASCII but `+` and `=`,
/// hexchar `+` and two hex digits. Returned as sent, not decoded.
fn parse_xtext(
    name: &'static str,
    value: Option<&[u8]>,
    smtputf8: bool,
) -> Result<String, CommandError> {
    let value = required(name, value)?;
    let mut bytes = value.iter();
    while let Some(&byte) = bytes.next() {
        let ok = match byte {
            b'+' => [bytes.next(), bytes.next()]
                .iter()
                .all(|digit| digit.is_some_and(u8::is_ascii_hexdigit)),
            b'=' => false,
            33..=126 => true,
            0x80.. => smtputf8,
            _ => false,
        };
        if !ok {
            return Err(invalid(name, "not valid xtext"));
        }
    }
    text(name, value)
}

fn text(name: &'static str, value: &[u8]) -> Result<String, CommandError> {
    String::from_utf8(value.to_vec()).map_err(|_| invalid(name, "not valid UTF-8"))
}
