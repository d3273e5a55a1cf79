"""The gateway's SPF, DKIM, DMARC and ARC results for the message (no capability
needed). The generated record types are returned as they are: `results()` is None where
nothing was checked, else it has `client_ip`, `spf_helo`, `spf_mail_from`, `dkim` (a
list), `dmarc`, `arc` and `from_domain`; result enums have upper-case members such as
`PASS` and `FAIL`, so compare by name: `results().dmarc.result.name == "FAIL"`."""

from . import _wit


def results():
    """The results for the message being filtered, or None."""
    return _wit.imports("sender_auth").results()
