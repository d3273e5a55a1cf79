//! SMTP commands (RFC 5321 §4.1.1 and the extensions Moat may offer) and their parser.
//!
//! [`parse_command`] takes one line without its line ending and returns a [`Command`] or a
//! [`CommandError`] whose variant says which reply it deserves; the reply text itself is
//! written by the session's reply module, never here. Verbs are case-insensitive; spaces and
//! tabs around the line and runs of spaces between arguments are tolerated, as Postfix does.

use super::address::{self, AddressError, ForwardPath, Path, ReversePath};
use super::domain::{self, DomainError, DomainSyntax};
use super::params::{self, MailParams, RcptParams};

/// One SMTP command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain-or-literal` (RFC 5321 §4.1.1.1).
    Ehlo(String),
    /// `HELO domain-or-literal` (RFC 5321 §4.1.1.1; literals accepted as clients send them).
    Helo(String),
    /// `MAIL FROM:<path> [params]` (RFC 5321 §4.1.1.2).
    MailFrom {
        /// The sender, or `<>` for notifications.
        from: ReversePath,
        /// The ESMTP parameters.
        params: MailParams,
    },
    /// `RCPT TO:<path> [params]` (RFC 5321 §4.1.1.3).
    RcptTo {
        /// The recipient.
        to: ForwardPath,
        /// The ESMTP parameters.
        params: RcptParams,
    },
    /// `DATA` (RFC 5321 §4.1.1.4): the message follows, ended by `CRLF.CRLF`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2): exactly `size` octets of message follow.
    Bdat {
        /// The number of octets in this chunk.
        size: u64,
        /// Whether this is the final chunk of the message.
        last: bool,
    },
    /// `RSET` (RFC 5321 §4.1.1.5).
    Rset,
    /// `NOOP [string]` (RFC 5321 §4.1.1.9); any argument is ignored.
    Noop,
    /// `QUIT` (RFC 5321 §4.1.1.10).
    Quit,
    /// `VRFY string` (RFC 5321 §4.1.1.6).
    Vrfy(String),
    /// `EXPN string` (RFC 5321 §4.1.1.7).
    Expn(String),
    /// `HELP [string]` (RFC 5321 §4.1.1.8); empty when no topic was given.
    Help(String),
    /// `STARTTLS` (RFC 3207 §4).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    Auth {
        /// The SASL mechanism name, uppercased.
        mechanism: String,
        /// The initial response as sent: base64, or `=` for an empty one.
        initial_response: Option<String>,
    },
}

/// Why a command line was refused. Each variant names the reply it should get; the session's
/// reply module writes the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Nothing but spaces on the line. Reply `500 5.5.2`.
    #[error("empty command line")]
    Empty,
    /// The line holds a NUL byte. Reply `500 5.5.2`.
    #[error("command line contains a NUL byte")]
    ContainsNul,
    /// The verb is not a command Moat knows. Reply `500 5.5.1`. `verb` is at most 16
    /// characters with anything but printable ASCII replaced by `?`, safe to log or echo.
    #[error("unknown command {verb:?}")]
    UnknownCommand {
        /// The verb as sent, sanitised.
        verb: String,
    },
    /// The arguments do not fit the command's syntax. Reply `501 5.5.2`
    /// (`501 5.5.4` for arguments to STARTTLS, RFC 3207 §4).
    #[error("syntax error: {reason}")]
    Syntax {
        /// What is wrong, as a short phrase.
        reason: &'static str,
    },
    /// The EHLO/HELO argument is neither a domain nor an address literal. Reply `501 5.5.2`.
    #[error("invalid EHLO/HELO argument: {reason}")]
    InvalidHelo {
        /// What is wrong with it.
        reason: DomainError,
    },
    /// The path of MAIL FROM or RCPT TO is malformed. Reply `501 5.1.3` for a sender,
    /// `501 5.1.3` or `553 5.1.3` for a recipient; `553 5.6.7` for [`AddressError::NonAscii`].
    #[error("invalid address: {reason}")]
    InvalidAddress {
        /// What is wrong with it.
        reason: AddressError,
    },
    /// An ESMTP parameter Moat does not implement. Reply `555 5.5.4` (RFC 5321 §4.1.1.11).
    #[error("unknown parameter {name}")]
    UnknownParameter {
        /// The keyword, uppercased.
        name: String,
    },
    /// A known ESMTP parameter with a bad value. Reply `501 5.5.4`.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The keyword.
        name: &'static str,
        /// What is wrong with the value.
        reason: &'static str,
    },
    /// The same ESMTP parameter twice. Reply `501 5.5.4`.
    #[error("duplicate parameter {name}")]
    DuplicateParameter {
        /// The keyword.
        name: &'static str,
    },
}

/// Parses one command line (without its line ending) outside an SMTPUTF8 transaction.
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    parse_command_with(line, ParseContext::default())
}

/// What the session knows that changes how a line parses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseContext {
    /// The current transaction's `MAIL FROM` carried `SMTPUTF8`, so `RCPT TO` may name UTF-8
    /// addresses (RFC 6531 §3.4). `MAIL FROM` itself looks at its own parameters.
    pub smtputf8: bool,
}

/// Parses one command line (without its line ending) in `context`.
pub fn parse_command_with(line: &[u8], context: ParseContext) -> Result<Command, CommandError> {
    if line.contains(&0) {
        return Err(CommandError::ContainsNul);
    }
    let line = line.trim_ascii();
    if line.is_empty() {
        return Err(CommandError::Empty);
    }
    let (verb, args) = match line.iter().position(|&byte| byte == b' ') {
        Some(at) => (&line[..at], line[at..].trim_ascii_start()),
        None => (line, &line[line.len()..]),
    };
    // The longest verb is STARTTLS; anything longer cannot match.
    let upper = verb[..verb.len().min(9)].to_ascii_uppercase();
    match upper.as_slice() {
        b"EHLO" => parse_helo(args).map(Command::Ehlo),
        b"HELO" => parse_helo(args).map(Command::Helo),
        b"MAIL" => parse_mail(args),
        b"RCPT" => parse_rcpt(args, context),
        b"DATA" => no_args(args, Command::Data),
        b"BDAT" => parse_bdat(args),
        b"RSET" => no_args(args, Command::Rset),
        b"NOOP" => Ok(Command::Noop),
        b"QUIT" => no_args(args, Command::Quit),
        b"VRFY" => required_text(args).map(Command::Vrfy),
        b"EXPN" => required_text(args).map(Command::Expn),
        b"HELP" => text(args).map(Command::Help),
        b"STARTTLS" => no_args(args, Command::StartTls),
        b"AUTH" => parse_auth(args),
        _ => Err(CommandError::UnknownCommand {
            verb: sanitise(verb),
        }),
    }
}

fn parse_helo(args: &[u8]) -> Result<String, CommandError> {
    if args.is_empty() {
        return Err(CommandError::Syntax {
            reason: "a domain or address literal is required",
        });
    }
    let syntax = DomainSyntax {
        utf8: false,
        underscore: true,
    };
    domain::check_domain(args, syntax).map_err(|reason| CommandError::InvalidHelo { reason })?;
    text(args)
}

fn parse_mail(args: &[u8]) -> Result<Command, CommandError> {
    let path = strip_keyword(args, b"FROM:").ok_or(CommandError::Syntax {
        reason: "expected FROM:<address>",
    })?;
    // SMTPUTF8 among the parameters decides whether the path may be UTF-8, so the
    // parameters are read first (RFC 6531 §3.4).
    let (end, rest) = split_path(path)?;
    let params = params::parse_mail_params(rest)?;
    let from = match parse_path(&path[..end], params.smtputf8)? {
        Path::Null => ReversePath::Null,
        Path::Mailbox(mailbox) => ReversePath::Address(mailbox),
        Path::Postmaster => return Err(invalid_address(AddressError::MissingDomain)),
    };
    Ok(Command::MailFrom { from, params })
}

fn parse_rcpt(args: &[u8], context: ParseContext) -> Result<Command, CommandError> {
    let path = strip_keyword(args, b"TO:").ok_or(CommandError::Syntax {
        reason: "expected TO:<address>",
    })?;
    let (end, rest) = split_path(path)?;
    let to = match parse_path(&path[..end], context.smtputf8)? {
        Path::Null => return Err(invalid_address(AddressError::NullRecipient)),
        Path::Postmaster => ForwardPath::Postmaster,
        Path::Mailbox(mailbox) => ForwardPath::Address(mailbox),
    };
    let params = params::parse_rcpt_params(rest, context.smtputf8)?;
    Ok(Command::RcptTo { to, params })
}

/// `FROM:` / `TO:` (any case), then optional spaces: many clients send `MAIL FROM: <a@b>`.
fn strip_keyword<'a>(args: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let head = args.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword)
        .then(|| args[keyword.len()..].trim_ascii_start())
}

/// Splits `<path> params` at the end of the path: the first `>` outside a quoted string, or
/// the first space when the path is not bracketed (which the path parser then refuses). The
/// parameters must be separated from the path by a space.
fn split_path(text: &[u8]) -> Result<(usize, &[u8]), CommandError> {
    let mut quoted = false;
    let mut escaped = false;
    let mut end = text.len();
    for (at, &byte) in text.iter().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'>' if !quoted => {
                end = at + 1;
                break;
            }
            b' ' if !quoted && text.first() != Some(&b'<') => {
                end = at;
                break;
            }
            _ => {}
        }
    }
    let rest = &text[end..];
    if rest.first().is_some_and(|&byte| byte != b' ') {
        return Err(CommandError::Syntax {
            reason: "unexpected text after the address",
        });
    }
    Ok((end, rest))
}

fn parse_path(bytes: &[u8], smtputf8: bool) -> Result<Path, CommandError> {
    let (path, used) = address::parse_path(bytes, smtputf8).map_err(invalid_address)?;
    if used != bytes.len() {
        return Err(CommandError::Syntax {
            reason: "unexpected text after the address",
        });
    }
    Ok(path)
}

fn invalid_address(reason: AddressError) -> CommandError {
    CommandError::InvalidAddress { reason }
}

/// RFC 3030 §2: `"BDAT" SP chunk-size [ SP end-marker ]`.
fn parse_bdat(args: &[u8]) -> Result<Command, CommandError> {
    let mut words = args
        .split(|&byte| byte == b' ')
        .filter(|word| !word.is_empty());
    let size = words
        .next()
        .filter(|digits| digits.iter().all(u8::is_ascii_digit))
        .and_then(|digits| std::str::from_utf8(digits).ok()?.parse().ok())
        .ok_or(CommandError::Syntax {
            reason: "BDAT needs a chunk size",
        })?;
    let last = match words.next() {
        None => false,
        Some(word) if word.eq_ignore_ascii_case(b"LAST") => true,
        Some(_) => {
            return Err(CommandError::Syntax {
                reason: "BDAT takes a size and optionally LAST",
            });
        }
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax {
            reason: "BDAT takes a size and optionally LAST",
        });
    }
    Ok(Command::Bdat { size, last })
}

/// RFC 4954 §4: `"AUTH" SP sasl-mech [SP initial-response]`, sasl-mech being 1 to 20 of
/// letters, digits, `-` and `_` (RFC 4422 §3.1).
fn parse_auth(args: &[u8]) -> Result<Command, CommandError> {
    let mut words = args
        .split(|&byte| byte == b' ')
        .filter(|word| !word.is_empty());
    let mechanism = words
        .next()
        .filter(|name| name.len() <= 20)
        .filter(|name| {
            name.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or(CommandError::Syntax {
            reason: "AUTH needs a mechanism name",
        })?;
    let initial_response = match words.next() {
        None => None,
        Some(response) if is_base64_or_equals(response) => Some(text(response)?),
        Some(_) => {
            return Err(CommandError::Syntax {
                reason: "initial response is not base64",
            });
        }
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax {
            reason: "AUTH takes a mechanism and an initial response",
        });
    }
    Ok(Command::Auth {
        mechanism: String::from_utf8_lossy(mechanism).to_ascii_uppercase(),
        initial_response,
    })
}

fn is_base64_or_equals(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

fn no_args(args: &[u8], command: Command) -> Result<Command, CommandError> {
    if args.is_empty() {
        Ok(command)
    } else {
        Err(CommandError::Syntax {
            reason: "this command takes no arguments",
        })
    }
}

fn required_text(args: &[u8]) -> Result<String, CommandError> {
    if args.is_empty() {
        return Err(CommandError::Syntax {
            reason: "an argument is required",
        });
    }
    text(args)
}

/// Free-text arguments: UTF-8 without control characters.
fn text(args: &[u8]) -> Result<String, CommandError> {
    if args
        .iter()
        .any(|&byte| byte.is_ascii_control() && byte != b'\t')
    {
        return Err(CommandError::Syntax {
            reason: "control characters in the arguments",
        });
    }
    String::from_utf8(args.to_vec()).map_err(|_| CommandError::Syntax {
        reason: "arguments are not valid UTF-8",
    })
}

fn sanitise(verb: &[u8]) -> String {
    verb.iter()
        .take(16)
        .map(|&byte| {
            if byte.is_ascii_graphic() {
                char::from(byte)
            } else {
                '?'
            }
        })
        .collect()
}
