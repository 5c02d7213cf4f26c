"""What a PEM certificate file says about itself (validity, subject, issuer), read with the standard library.

A Java broker answers an expired client certificate and one signed by a CA it
does not trust with the same TLS alert ("certificate unknown"), so the alert
cannot say which; the certificate file can. Python's `ssl` module reads
certificates only from a peer (or through a private function), so the few
fields needed are read from the DER here: a certificate is
SEQUENCE { tbsCertificate SEQUENCE { [0] version, serial, signature,
issuer, validity { notBefore, notAfter }, subject, ... }, ... } (RFC 5280).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)
_COMMON_NAME = bytes.fromhex("550403")  # OID 2.5.4.3
_ORGANIZATION = bytes.fromhex("55040a")  # OID 2.5.4.10
MAX_FILE_BYTES = 1024 * 1024
"""Larger files are not read: a CA bundle is a few hundred kilobytes at most."""


@dataclass(frozen=True)
class Certificate:
    """The fields of one certificate that explain why a TLS peer refused it."""

    subject: bytes
    """The subject Name as DER (compared, never shown)."""
    issuer: bytes
    """The issuer Name as DER: equal to its CA certificate's `subject`."""
    subject_name: str
    issuer_name: str
    not_before: datetime
    not_after: datetime


def read_certificates(path: str | Path) -> list[Certificate]:
    """The certificates in a PEM file, in order; [] when it cannot be read or holds none it can parse."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES)
    except OSError:
        return []
    found = []
    for match in _PEM.finditer(data):
        try:
            found.append(_certificate(base64.b64decode(b"".join(match.group(1).split()), validate=True)))
        except (ValueError, IndexError, binascii.Error):  # not a certificate we can read: explain without it
            continue
    return found


def _certificate(der: bytes) -> Certificate:
    _, body, _ = _element(der, 0, 0x30)
    _, tbs, _ = _element(der, body, 0x30)
    at = tbs
    if der[at] == 0xA0:  # [0] EXPLICIT version
        at = _element(der, at)[2]
    at = _element(der, at, 0x02)[2]  # serialNumber
    at = _element(der, at, 0x30)[2]  # signature algorithm
    issuer_start = at
    _, _, at = _element(der, at, 0x30)
    issuer = der[issuer_start:at]
    _, validity, after_validity = _element(der, at, 0x30)
    not_before, value, end = _element(der, validity)
    not_after, value_after, end_after = _element(der, end)
    subject_start = after_validity
    _, _, subject_end = _element(der, subject_start, 0x30)
    subject = der[subject_start:subject_end]
    return Certificate(subject, issuer, _name(subject), _name(issuer), _time(not_before, der[value:end]),
                       _time(not_after, der[value_after:end_after]))


def _element(der: bytes, at: int, tag: int | None = None) -> tuple[int, int, int]:
    """(tag, start of the content, end of the element) of the DER element at `at`."""
    found = der[at]
    if tag is not None and found != tag:
        raise ValueError(f"expected tag {tag:#x} at {at}, found {found:#x}")
    length = der[at + 1]
    start = at + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[start:start + count], "big")
        start += count
    end = start + length
    if end > len(der):
        raise ValueError("truncated DER")
    return found, start, end


def _time(tag: int, value: bytes) -> datetime:
    text = value.decode("ascii")
    if tag == 0x17:  # UTCTime: YYMMDDHHMMSSZ, years 1950-2049
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime: YYYYMMDDHHMMSSZ
        raise ValueError(f"not a time (tag {tag:#x})")
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def _name(name: bytes) -> str:
    """The common name of a DER Name (its organization if it has none; "" if neither)."""
    values: dict[bytes, str] = {}
    _, at, end = _element(name, 0, 0x30)
    while at < end:
        _, rdn, at = _element(name, at, 0x31)
        _, attribute, _ = _element(name, rdn, 0x30)
        _, oid, after_oid = _element(name, attribute, 0x06)
        _, value, value_end = _element(name, after_oid)
        values.setdefault(name[oid:after_oid], name[value:value_end].decode("utf-8", "replace"))
    return values.get(_COMMON_NAME) or values.get(_ORGANIZATION) or ""
