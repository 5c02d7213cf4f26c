"""PEM certificate files with chosen names and dates, for the code that reads certificate files.

They are built field by field (RFC 5280's layout) with a dummy signature:
nothing here verifies signatures, so none is needed, and the tests need no
openssl binary and no library that is not a dependency.
"""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

_COMMON_NAME = bytes.fromhex("550403")
_ECDSA_SHA256 = bytes.fromhex("2a8648ce3d040302")


def der(tag: int, content: bytes) -> bytes:
    """One DER element (definite length, short or long form)."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def name(common_name: str) -> bytes:
    """A Name with one CN."""
    attribute = der(0x30, der(0x06, _COMMON_NAME) + der(0x0C, common_name.encode()))
    return der(0x30, der(0x31, attribute))


def _time(moment: datetime) -> bytes:
    if 1950 <= moment.year < 2050:
        return der(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())
    return der(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


def certificate(subject: str, issuer: str, not_before: datetime, not_after: datetime) -> bytes:
    """The DER of a certificate with these names and dates (and a dummy key and signature)."""
    algorithm = der(0x30, der(0x06, _ECDSA_SHA256))
    key = der(0x30, algorithm + der(0x03, b"\x00\x04" + bytes(64)))
    tbs = der(0x30, der(0xA0, der(0x02, b"\x02")) + der(0x02, b"\x10\x00") + algorithm + name(issuer)
              + der(0x30, _time(not_before) + _time(not_after)) + name(subject) + key)
    return der(0x30, tbs + algorithm + der(0x03, b"\x00" + bytes(8)))


def write_pem(path: Path, *certificates: bytes) -> Path:
    """A PEM file holding the DER certificates, in order."""
    blocks = []
    for each in certificates:
        text = base64.encodebytes(each).decode().replace("\n", "")
        lines = "\n".join(text[i:i + 64] for i in range(0, len(text), 64))
        blocks.append(f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n")
    path.write_text("".join(blocks))
    return path
