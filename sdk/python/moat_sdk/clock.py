"""The gateway's clock. Use it rather than `time.time()`: plugins have no real clock, and
tests and replays move the gateway's."""

import datetime

from . import _wit


def now_millis() -> int:
    """Milliseconds since the Unix epoch, UTC."""
    return _wit.imports("clock").now_millis()


def now() -> datetime.datetime:
    """The gateway's time as an aware UTC datetime."""
    return datetime.datetime.fromtimestamp(now_millis() / 1000, tz=datetime.timezone.utc)
