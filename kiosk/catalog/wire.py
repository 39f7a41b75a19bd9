"""Reading JSON that arrived from the network, bounded before anything is parsed.

`json.loads` sets no limits of its own: deep nesting raises RecursionError (which no caller
expects), `NaN` and `Infinity` pass as numbers, and bytes are decoded with 'surrogatepass', so a
lone surrogate reaches the database and breaks the write. `loads` checks size and nesting first,
decodes strict UTF-8 and refuses the non-JSON constants; every bad input becomes one `WireError`
with a one-line reason.

The nesting check runs at C speed on byte strings, with no Python loop per character: escaped
backslashes and quotes are removed, then everything but quotes and brackets, then the strings,
and the running depth of what is left is the nesting of the document. A 40 MB catalog is checked
in a small fraction of the time `json.loads` takes to parse it.
"""

from __future__ import annotations

import json
from itertools import accumulate
from typing import Any

from kiosk.core.errors import CatalogError

_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'"[]{}')
_BRACES_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_STEP = [0] * 256
_STEP[ord("[")], _STEP[ord("]")] = 1, -1


class WireError(CatalogError, ValueError):
    """Bytes from the network that are not acceptable JSON; the message says why, in one line."""

    code = "catalog.bad_wire"


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings ignored).

    Exact for valid JSON; for malformed text it may count differently than a parser would, which
    does not matter because such text is refused anyway."""
    shape = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    shape = shape.translate(_BRACES_AS_BRACKETS, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in shape:  # strings that hold brackets (rare): keep what lies outside quote pairs
        shape = b"".join(shape.split(b'"')[::2])
    return max(accumulate(map(_STEP.__getitem__, shape)), default=0)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(data: bytes, max_depth: int, what: str = "the body", max_bytes: int | None = None) -> Any:
    """Parse `data` as JSON within bounds; raise WireError naming `what` otherwise."""
    if max_bytes is not None and len(data) > max_bytes:
        raise WireError(f"{what} is {len(data)} bytes, over the {max_bytes}-byte limit")
    depth = nesting_depth(data)
    if depth > max_depth:
        raise WireError(f"{what} nests JSON deeper than {max_depth} levels ({depth})")
    try:
        text = data.decode("utf-8")  # strict: encoded surrogates and stray bytes are refused here
    except UnicodeDecodeError as error:
        raise WireError(f"{what} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # unreachable after the depth check; kept so no input can crash a caller
        raise WireError(f"{what} nests JSON too deeply") from None
    except ValueError as error:
        raise WireError(f"{what} is not valid JSON: {_one_line(error)}") from None


def _one_line(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
