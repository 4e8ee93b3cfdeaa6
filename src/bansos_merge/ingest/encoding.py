"""Which encoding a CSV file is in, and the facts about its bytes that its rows are checked against.

Agencies send UTF-8 (with or without BOM), Windows cp1252, UTF-16 ("Unicode text", Excel's
tab-separated export), and UTF-8 files that someone edited in a cp1252 editor, leaving a
few bytes that are not UTF-8. A file is UTF-8 only if all of it is; otherwise a byte that is
not UTF-8 is read as cp1252 where it stands, so the file's UTF-8 names are not garbled, and
the rows that held one are named. A NUL byte in a name does not make a file binary: a file is
binary when control bytes are a share of its head that no text has.
"""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import SourceConfig
from ..errors import InputError

HEAD_BYTES = 1 << 16
_CHUNK = 1 << 24  # bytes read at a time when scanning a file
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"
_CONTROL = bytes(range(0, 9)) + bytes(range(14, 32))  # no text has many of these (TAB, LF, FF, CR are text)
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
UTF8, FALLBACK = "utf-8", "utf-8, else cp1252"


def line_breaks(data: bytes) -> int:
    """Line breaks as every CSV reader here counts them: CR LF, a lone CR (old Mac) or LF."""
    lf = data.count(b"\n")
    return lf + data.count(b"\r") - data.count(b"\r\n") if b"\r" in data else lf


def break_ends(arr: np.ndarray) -> np.ndarray:
    """Sorted offsets of the last byte of each line break in `arr` (bytes as uint8)."""
    lf = np.flatnonzero(arr == 10)
    cr = np.flatnonzero(arr == 13)
    lone_cr = cr[(cr + 1 >= len(arr)) | (arr[np.minimum(cr + 1, len(arr) - 1)] != 10)]
    return np.sort(np.concatenate([lf, lone_cr]))


def data_lines(data: bytes) -> int:
    """Physical lines of `data`: its line breaks, plus a last line without one."""
    return line_breaks(data) + (1 if data and data[-1:] not in (b"\n", b"\r") else 0)


def _error(message: str, src: SourceConfig, path: Path) -> InputError:
    return InputError(message, source=src.name, file=str(path))


def _utf16(head: bytes) -> str | None:
    """UTF-16 by its BOM, or by its NUL bytes (every other byte of mostly-ASCII text)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    even, odd = head[0:4096:2], head[1:4096:2]
    if len(odd) >= 4:
        if odd.count(0) >= 0.6 * len(odd) and even.count(0) <= 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) >= 0.6 * len(even) and odd.count(0) <= 0.1 * len(odd):
            return "utf-16-be"
    return None


def choose_encoding(head: bytes, src: SourceConfig, path: Path) -> str:
    """The codec to read the file with: the configured one, UTF-16 when it is, else FALLBACK
    (UTF-8 where the bytes are UTF-8; whether all are is the scan's to say). Refuses a file
    that is empty, an Excel workbook, or binary."""
    if not head.strip(b" \t\r\n\x00"):
        raise _error("the file is empty", src, path)
    if head.startswith((_ZIP, _OLE)):
        raise _error("this is an Excel workbook with a .csv name; rename it to .xlsx/.xls or export it as CSV", src, path)
    if src.encoding:
        try:
            name = codecs.lookup(src.encoding).name
        except LookupError:
            raise _error(f"unknown encoding {src.encoding!r}", src, path) from None
        return UTF8 if name in ("utf-8", "utf-8-sig") else name
    wide = _utf16(head)
    if wide:
        return wide
    control = len(head) - len(head.translate(None, _CONTROL))
    if control >= 16 and control >= 0.05 * len(head):
        raise _error("this is a binary file, not text CSV", src, path)
    return FALLBACK


@dataclass
class ByteFacts:
    """What one pass over a file's bytes found; `utf8`: every byte is UTF-8."""

    utf8: bool
    line_breaks: int
    last_line_open: bool  # the last line has no line break after it
    quotes: bool  # a quote anywhere (only then can a value span lines)
    nuls: bool

    def lines_after(self, head: bytes) -> int:
        """Physical lines after `head`, a prefix of the file that ends at a line break."""
        return self.line_breaks - line_breaks(head) + (1 if self.last_line_open else 0)


def _boundary(block: bytes) -> int:
    """A cut near the end of `block` that splits no UTF-8 character."""
    for i in range(1, min(4, len(block)) + 1):
        b = block[-i]
        if b < 0x80:
            return len(block) - i + 1
        if b >= 0xC0:
            return len(block) - i
    return len(block)


def scan(path: Path, encoding: str, src: SourceConfig) -> ByteFacts:
    """One pass over the file, a chunk at a time and nothing kept: is it UTF-8, and its line
    breaks, quotes and NUL bytes. With UTF-8 configured, a byte that is not is an error."""
    breaks, quotes, nuls = 0, False, False
    utf8, rest, was_cr, last = encoding in (UTF8, FALLBACK), b"", False, b""
    with path.open("rb") as f:
        first = True
        while True:
            chunk = f.read(_CHUNK)
            block = rest + chunk
            if first and block.startswith(codecs.BOM_UTF8):
                block = block[3:]
            first = False
            cut = len(block) if not chunk else _boundary(block)
            block, rest = block[:cut], block[cut:]
            if utf8:
                try:
                    block.decode("utf-8")
                except UnicodeDecodeError as e:
                    if encoding == UTF8:
                        line = breaks + line_breaks(block[: e.start]) + 1
                        raise _error(
                            f"line {line}: byte 0x{block[e.start]:02x} is not valid {src.encoding}; set `encoding` to the "
                            "file's real encoding (often cp1252 for Windows Excel exports) or leave it unset to detect it",
                            src,
                            path,
                        ) from None
                    utf8 = False
            # a CR LF cut between two blocks is one line break, not two
            breaks += line_breaks(block) - (1 if was_cr and block.startswith(b"\n") else 0)
            quotes = quotes or b'"' in block
            nuls = nuls or b"\x00" in block
            if block:
                was_cr, last = block.endswith(b"\r"), block[-1:]
            if not chunk:
                return ByteFacts(utf8, breaks, bool(last) and last not in (b"\n", b"\r"), quotes, nuls)


_fallback = threading.local()


def _as_cp1252(err: UnicodeDecodeError) -> tuple[str, int]:
    """Decode error handler: a byte that is not UTF-8 is read as cp1252 (Latin-1 where cp1252
    has no character), and its position noted."""
    bad = err.object[err.start : err.end]
    _fallback.positions.append(err.start)
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), err.end


codecs.register_error("bansos-cp1252", _as_cp1252)


@dataclass
class Decoded:
    text: str
    encoding: str  # what the manifest says
    cp1252_at: list[int]  # byte positions in the file's data that were read as cp1252 in a UTF-8 file


def decode(data: bytes, encoding: str, src: SourceConfig, path: Path, final: bool = True) -> Decoded:
    """The file's bytes (or, `final=False`, its head: a character cut at the end is no error) as text."""
    if encoding == FALLBACK:
        data = data[3:] if data.startswith(codecs.BOM_UTF8) else data
        if not final:
            data = data[: _boundary(data)]
        if not _UTF8_MULTIBYTE.search(data):  # not a UTF-8 character in it: a Windows export
            _fallback.positions = []
            return Decoded(data.decode("cp1252", errors="bansos-cp1252"), "cp1252", [])
        _fallback.positions = []
        text = data.decode("utf-8", errors="bansos-cp1252")
        return Decoded(text, "utf-8" if not _fallback.positions else "utf-8 with cp1252 bytes", list(_fallback.positions))
    name = "utf-8-sig" if encoding == UTF8 else encoding
    try:
        return Decoded(codecs.getincrementaldecoder(name)().decode(data, final=final), encoding, [])
    except UnicodeDecodeError as e:
        raise _error(
            f"line {line_breaks(data[: e.start]) + 1}: byte 0x{data[e.start]:02x} is not valid {src.encoding or encoding}; "
            "set `encoding` to the file's real encoding (often cp1252 for Windows Excel exports) or leave it unset to detect it",
            src,
            path,
        ) from None
