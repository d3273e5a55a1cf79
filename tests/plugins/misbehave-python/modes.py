"""Which way to misbehave, as named in the config key `mode` or the `X-Misbehave` header.

- `none`: behave; answer `MISBEHAVE_OK` (score 0).
- `loop`: spin forever, to hit the time budget.
- `memory-bomb`: allocate and fill 1 MiB chunks forever, to hit the memory limit.
- `panic`: raise an exception (a trap for the host, with the traceback on stderr).
- `stack-overflow`: recurse without bound, the interpreter's recursion limit lifted.
- `invalid-verdict`: answer a verdict the host must reject (bad name, NaN score).
- `hoard-body`: keep 16 copies of the body text.
"""

MODES = (
    "none",
    "loop",
    "memory-bomb",
    "panic",
    "stack-overflow",
    "invalid-verdict",
    "hoard-body",
)


def parse(name):
    """The mode named `name` (surrounding blanks and case ignored), or None if unknown."""
    name = name.strip().lower()
    return name if name in MODES else None


def effective_mode_name(header, configured):
    """The header wins over the configured mode; without either the plugin behaves."""
    if header is not None:
        return header
    if configured is not None:
        return configured
    return "none"
