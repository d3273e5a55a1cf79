"""Text in images, by the operator's OCR engine (needs the `ocr` capability)."""

from __future__ import annotations

import enum

from . import _wit


class OcrErrorKind(enum.Enum):
    """Why no text came back."""

    NOT_CONFIGURED = "not-configured"
    UNSUPPORTED_FORMAT = "unsupported-format"
    TOO_LARGE = "too-large"
    TIMEOUT = "timeout"
    FAILED = "failed"
    DENIED = "denied"


class OcrError(Exception):
    """No text came back; `kind` is an `OcrErrorKind`."""

    def __init__(self, kind: OcrErrorKind) -> None:
        super().__init__(f"ocr: {kind.value}")
        self.kind = kind


def recognize(image: bytes, content_type: str) -> str:
    """The text in `image` (a PNG, JPEG or GIF's bytes) of media type `content_type`."""
    module = _wit.imports("ocr")
    try:
        return module.recognize(bytes(image), content_type)
    except Exception as error:  # the generated `Err`
        value = _wit.error_value(error)
        if value is None:
            raise
        raise OcrError(OcrErrorKind[value.name]) from None
