"""Access to the bindings componentize-py generates for Moat's `plugin` world.

The generated package (`wit_world`) exists only while componentize-py builds the
component, and only modules imported then are in the component: componentize-py runs the
app's imports at build time and snapshots the interpreter. So this module imports every
interface eagerly when it can, and otherwise (plain CPython: unit tests, type checkers)
leaves them unset, so the rest of the SDK still imports and its pure parts still work;
a host call there raises `RuntimeError`.
"""

try:
    import componentize_py_types as _types_module
    from wit_world.imports import clock as _clock
    from wit_world.imports import config as _config
    from wit_world.imports import dns as _dns
    from wit_world.imports import domain as _domain
    from wit_world.imports import kv as _kv
    from wit_world.imports import log as _log
    from wit_world.imports import message as _message
    from wit_world.imports import ocr as _ocr
    from wit_world.imports import sender_auth as _sender_auth
    from wit_world.imports import types as _types

    _MODULES = {
        "clock": _clock,
        "config": _config,
        "dns": _dns,
        "domain": _domain,
        "kv": _kv,
        "log": _log,
        "message": _message,
        "ocr": _ocr,
        "sender_auth": _sender_auth,
        "types": _types,
    }
except ImportError:  # not inside componentize-py: no host
    _types_module = None
    _MODULES = {}


def in_component() -> bool:
    """Whether the generated bindings are present (the code runs in a Moat component)."""
    return bool(_MODULES)


def imports(interface: str):
    """The generated module of an imported interface, e.g. `imports("types")`."""
    try:
        return _MODULES[interface]
    except KeyError:
        raise RuntimeError(
            f"moat_sdk: the host interface `{interface}` exists only inside the gateway "
            "(a component built with componentize-py)"
        ) from None


def error_value(error: BaseException):
    """The payload of the `Err` componentize-py raises for a WIT `result` error, or None
    when `error` is some other exception."""
    if _types_module is not None and isinstance(error, _types_module.Err):
        return error.value
    return None


def err(value) -> BaseException:
    """The exception that returns `value` as the error of a WIT `result`."""
    if _types_module is None:
        raise RuntimeError("moat_sdk: results exist only inside the gateway")
    return _types_module.Err(value)
