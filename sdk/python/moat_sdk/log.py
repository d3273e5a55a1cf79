"""Write to the gateway's log, tagged with the plugin's name and the session id. Messages
longer than 4 KiB are truncated. `print` to stderr also works: the host keeps the first
4 KiB of a call's stderr and shows it in `moat plugin test`."""

from . import _wit


def _log(level: str, message: str) -> None:
    module = _wit.imports("log")
    module.log(module.Level[level], message)


def trace(message: str) -> None:
    """Fine detail for debugging a plugin."""
    _log("TRACE", message)


def debug(message: str) -> None:
    """Detail an operator turns on when investigating."""
    _log("DEBUG", message)


def info(message: str) -> None:
    """Normal facts worth recording."""
    _log("INFO", message)


def warn(message: str) -> None:
    """Something went wrong but the plugin carried on."""
    _log("WARN", message)


def error(message: str) -> None:
    """Something went wrong and the plugin's answer is affected."""
    _log("ERROR", message)
