"""Character encodings of the files a district sends: checked, and transcoded to UTF-8.

Every CSV byte of a bundle passes through :func:`copy_as_utf8` on its way into the run's work
folder, so everything downstream reads UTF-8 only:

- a byte-order mark says what a file is, whatever ``source.encoding`` declares: UTF-8 (kept as
  it is), UTF-16 / UTF-32 LE or BE (transcoded, the mark dropped);
- without a mark, the file is in the declared encoding (``source.encoding``, default UTF-8):
  UTF-8 is checked and copied unchanged, any other encoding is transcoded;
- the first byte that does not decode stops the copy with :class:`Undecodable`, naming the
  line, the byte offset, the byte and the encoding tried.

Work is chunked through Python's C incremental decoders (about a second per GB of UTF-8);
line numbers come from counting line ends per decoded chunk, never from a per-line loop.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

UTF8 = "utf-8"
# Longest marks first: the UTF-32 LE mark begins with the UTF-16 LE one.
BYTE_ORDER_MARKS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def normalize_encoding(name: str) -> str:
    """The codec name of a declared text encoding (``UTF8`` -> ``utf-8``, ``sjis`` ->
    ``shift_jis``); ``utf-8-sig`` is UTF-8 (a mark is always accepted). Raises ValueError for
    an unknown name or a codec that does not decode bytes to text (``rot13``, ``base64``)."""
    try:
        info = codecs.lookup(name.strip())
    except LookupError as exc:
        raise ValueError(f"unknown encoding {name!r}: use a Python codec name such as "
                         "utf-8, cp1252, iso-8859-1, shift_jis, utf-16") from exc
    if not getattr(info, "_is_text_encoding", True):
        raise ValueError(f"{name!r} is not a text encoding")
    return UTF8 if info.name in (UTF8, "utf-8-sig") else info.name


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class Undecodable(ValueError):
    """A byte that does not decode in the encoding tried; nothing of the file is kept."""

    def __init__(self, encoding: str, line: int, offset: int, byte: bytes, why: str) -> None:
        self.encoding = encoding
        self.line = line
        self.offset = offset
        self.byte = byte
        super().__init__(
            f"line {line}, byte offset {offset}: byte 0x{byte.hex().upper() or '??'} is not "
            f"valid {encoding} ({why})")


@dataclass
class _LineCounter:
    """Line ends seen so far: LF, CRLF, or a lone CR (old Mac files), across chunk edges."""

    ends: int = 0
    ended_with_cr: bool = False

    def feed(self, text: str) -> None:
        if not text:
            return
        if "\r" in text:
            self.ends += text.count("\n") + text.count("\r") - text.count("\r\n")
        else:  # most files: LF only, one pass
            self.ends += text.count("\n")
        if self.ended_with_cr and text[0] == "\n":
            self.ends -= 1
        self.ended_with_cr = text[-1] == "\r"

    def line_after(self, text: str) -> int:
        """The 1-based line of the character that follows ``text`` (not fed)."""
        probe = _LineCounter(self.ends, self.ended_with_cr)
        probe.feed(text)
        return probe.ends + 1


# A declared UTF-16 / UTF-32 without its mark is read little-endian, as Windows writes it.
UNMARKED = {"utf-16": "utf-16-le", "utf-32": "utf-32-le"}


def detect(first_chunk: bytes, declared: str) -> tuple[str, int]:
    """(codec to read the file with, bytes of byte-order mark to skip)."""
    for mark, codec in BYTE_ORDER_MARKS:
        if first_chunk.startswith(mark):
            return codec, 0 if codec == UTF8 else len(mark)
    return UNMARKED.get(declared, declared), 0


def copy_as_utf8(
    source: Readable, write: Callable[[bytes], object], *, declared: str = UTF8,
    chunk_bytes: int = 1 << 20,
) -> str:
    """Copy ``source`` as UTF-8 through ``write``; returns the encoding the file was read in.

    UTF-8 input is written as read (a UTF-8 mark included); other input is decoded and written
    re-encoded as UTF-8. Raises :class:`Undecodable` at the first byte that does not decode
    (what was written by then is the caller's to discard).
    """
    first = source.read(chunk_bytes)
    codec, skip = detect(first, declared)
    if codec == UTF8:
        _refuse_wide_text(first)
    factory = codecs.getincrementaldecoder(codec)
    decoder = factory("strict")
    lines = _LineCounter()
    consumed = skip
    transcode = codec != UTF8
    chunk = first[skip:]
    while True:
        final = not chunk
        state = decoder.getstate()
        try:
            text = decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            raise _undecodable(exc, codec, factory, state, lines, consumed) from None
        except UnicodeError as exc:  # a codec's own complaint, without a position
            raise Undecodable(codec, lines.ends + 1, consumed, chunk[:1], str(exc)) from None
        lines.feed(text)
        if text or chunk:
            write(text.encode(UTF8) if transcode else chunk)
        consumed += len(chunk)
        if final:
            return codec
        chunk = source.read(chunk_bytes)


def _refuse_wide_text(first: bytes) -> None:
    """NUL bytes are valid UTF-8, so UTF-16 / UTF-32 without a mark would pass as UTF-8 text
    full of NULs: refuse a file whose first 4 KiB is a quarter NUL or more."""
    head = first[:4096]
    if head and head.count(0) * 4 >= len(head):
        offset = head.index(0)
        raise Undecodable(UTF8, head[:offset].count(b"\n") + 1, offset, b"\x00",
                          "NUL bytes throughout: UTF-16 or UTF-32 without a byte-order mark?")


def _undecodable(exc: UnicodeDecodeError, codec: str, factory: Callable,
                 state: tuple, lines: _LineCounter, consumed: int) -> Undecodable:
    """Where the failing byte is. ``exc.object`` is the decoder's pending bytes + the chunk."""
    pending = state[0] if isinstance(state, tuple) and isinstance(state[0], bytes) else b""
    probe = factory("strict")
    probe.setstate((b"", state[1]) if isinstance(state, tuple) else state)
    try:
        before = probe.decode(exc.object[: exc.start], final=False)
    except UnicodeDecodeError:
        before = ""
    return Undecodable(codec, lines.line_after(before), consumed - len(pending) + exc.start,
                       exc.object[exc.start: exc.start + 1], exc.reason)
