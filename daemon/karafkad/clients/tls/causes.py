"""Why a TLS connection failed, in words an operator can act on (Kafka's and Redis's alike).

kafka-python and redis-py both pass OpenSSL's reason on as text ("[SSL:
CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed
certificate in certificate chain (_ssl.c:1006)"), inside their own wording,
which differs between TLS 1.2 and 1.3: under 1.3 a refused client
certificate surfaces as an alert on the first read, without kafka-python's
"Handshake failed:" prefix. So the cause is read from OpenSSL's reason
tokens alone, wherever they are in the text, and the client's own files
are consulted where the peer's alert is vague (a Java broker says
"certificate unknown" both for an expired client certificate and for one
from a CA it does not trust).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from karafkad.clients.tls.certificates import Certificate, read_certificates

_REASON = re.compile(r"\[(?:SSL|X509|PEM)(?::\s*[A-Z0-9_]+)?\]\s*(?P<text>.+?)\s*\(_ssl\.c:\d+\)")
_NOT_VALID_FOR = re.compile(r"not valid for '(?P<host>[^']*)'")

REFUSED_CLIENT_CERTIFICATE = ("ALERT_CERTIFICATE_REQUIRED", "ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_UNKNOWN",
                              "ALERT_UNSUPPORTED_CERTIFICATE", "ALERT_HANDSHAKE_FAILURE", "alert certificate unknown",
                              "alert bad certificate")
"""Alerts a server sends when it does not accept the client certificate (or there is none). Seen from
Kafka 4.3's Java broker under TLS 1.3: bad_certificate for a missing one, certificate_unknown for an
expired one and for one from a CA it does not trust. OpenSSL servers send certificate_required (TLS
1.3) or handshake_failure (TLS 1.2) for a missing one; their more specific alerts are matched first."""

GENERIC = ("EOF occurred in violation of protocol", "UNEXPECTED_EOF_WHILE_READING")
"""The peer closed the connection mid-handshake without saying why (under TLS 1.3, sometimes instead of
its alert about the client certificate)."""

_TLS_WORDS = ("[SSL", "[X509", "CERTIFICATE_VERIFY_FAILED", "certificate verify failed", *GENERIC)


@dataclass(frozen=True)
class TlsFiles:
    """A client's TLS settings, under the names the routes file gives them (the causes quote those names)."""

    peer: str
    """Who the client talks to: "the broker", "the Redis server"."""
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    cafile_key: str = "ssl_cafile"
    """The option naming the CA file ("ssl_ca_certs" for Redis)."""

    def configured(self) -> list[tuple[str, str]]:
        """(option, path) of every file set."""
        pairs = ((self.cafile_key, self.cafile), ("ssl_certfile", self.certfile), ("ssl_keyfile", self.keyfile))
        return [(key, path) for key, path in pairs if path]


def is_tls_failure(text: str) -> bool:
    """Whether `text` carries an OpenSSL reason (or a TLS file error kafka-python reports as a bare errno)."""
    return any(word in text for word in _TLS_WORDS) or "[Errno 2]" in text or "[Errno 13]" in text


def is_generic(text: str) -> bool:
    """Whether the failure in `text` names no cause (the peer just closed the connection)."""
    return any(word in text for word in GENERIC) and not any(
        word in text for word in ("CERTIFICATE_VERIFY_FAILED", "ALERT_"))


def openssl_reason(text: str) -> str:
    """OpenSSL's own words in `text`, without its token and source line ("certificate verify failed: ...")."""
    match = _REASON.search(text)
    if match:
        return match.group("text")
    return next((word for word in GENERIC if word in text), text.strip())


def tls_cause(text: str, files: TlsFiles, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str | None:
    """The cause of the TLS failure in `text`, in words; None when `text` names no TLS failure."""
    if "[Errno 2]" in text or "No such file or directory" in text:
        return _file_problem(files, lambda path: not os.path.exists(path), "does not exist")
    if "[Errno 13]" in text or "Permission denied" in text:
        return _file_problem(files, lambda path: not os.access(path, os.R_OK), "cannot be read (permission denied)")
    if not is_tls_failure(text):
        return None
    reason = openssl_reason(text)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return _server_certificate(text, reason, files)
    if "ALERT_CERTIFICATE_EXPIRED" in text:
        return _refused("expired", reason, files, now)
    if "ALERT_CERTIFICATE_REVOKED" in text:
        return _refused("revoked", reason, files, now)
    if "ALERT_UNKNOWN_CA" in text:
        return _refused("not signed by a CA it trusts", reason, files, now)
    if any(alert in text for alert in REFUSED_CLIENT_CERTIFICATE):
        return _refused("", reason, files, now)
    if "KEY_VALUES_MISMATCH" in text:
        return f"ssl_keyfile {files.keyfile or files.certfile} is not the key of ssl_certfile {files.certfile}"
    if "NO_CERTIFICATE_OR_CRL_FOUND" in text:
        return f"{files.cafile_key} {files.cafile} holds no PEM certificate"
    if "PEM lib" in text or "BAD_DECRYPT" in text or "bad decrypt" in text:
        return (f"cannot load the client certificate or key ({files.certfile}, {files.keyfile or 'key inside'}): "
                f"wrong ssl_password, or not PEM files ({reason})")
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        return f"{files.peer} does not speak TLS on this port ({reason})"
    if is_generic(text):
        # Under TLS 1.3 the peer's alert about the client certificate is sometimes lost in its closing
        # of the socket; the certificate file may still say what is wrong with it.
        issue = _client_certificate_issue(files, now)
        if issue:
            return (f"{files.peer} closed the TLS connection, refusing the client certificate: {issue} "
                    f"(ssl_certfile {files.certfile}; {reason})")
        none = "" if files.certfile else " (none is configured)"
        return (f"{files.peer} closed the TLS connection without saying why ({reason}); if this repeats: is this "
                f"its TLS port, and does it require a client certificate{none}?")
    return f"TLS failed: {reason}"


def _file_problem(files: TlsFiles, bad: Callable[[str], bool], what: str) -> str | None:
    for key, path in files.configured():
        if bad(path):
            return f"{key} {path} {what}"
    return None


def _server_certificate(text: str, reason: str, files: TlsFiles) -> str:
    """Why the client did not accept the server's certificate."""
    whose = f"{files.peer}'s certificate"
    if "mismatch" in text:  # "Hostname mismatch" or, for an address, "IP address mismatch"
        match = _NOT_VALID_FOR.search(text)
        host = match.group("host") if match else "the host connected to"
        return (f"hostname mismatch: {whose} is not valid for {host} (connect by a name or address the "
                "certificate lists; ssl_check_hostname is what checks it)")
    if "certificate has expired" in text:
        return f"{whose} has expired ({reason})"
    if "not yet valid" in text:
        return f"{whose} is not valid yet: is this machine's clock right? ({reason})"
    if "certificate revoked" in text:
        return f"{whose} is revoked in ssl_crlfile ({reason})"
    if "unable to get certificate CRL" in text:
        return f"ssl_crlfile holds no revocation list of the CA that signed {whose} ({reason})"
    if any(word in text for word in ("self-signed", "self signed", "unable to get local issuer",
                                     "unable to get issuer", "unable to verify the first certificate")):
        if files.cafile:
            return f"{whose} is not signed by the CA in {files.cafile_key} {files.cafile} ({reason})"
        return (f"{whose} is not signed by a CA this system trusts; set {files.cafile_key} to the CA that "
                f"signed it ({reason})")
    return f"{whose} was not accepted: {reason}"


def _refused(said: str, reason: str, files: TlsFiles, now: Callable[[], datetime]) -> str:
    """The peer refused the client certificate (`said` is what its alert means, if anything): what the
    certificate file says about why."""
    heard = f"{files.peer} said: {reason}"
    if not files.certfile:
        return (f"{files.peer} requires a client certificate and none is configured: set ssl_certfile and "
                f"ssl_keyfile ({heard})")
    issue = _client_certificate_issue(files, now) or said
    refused = f"{files.peer} refused the client certificate" + (f": {issue}" if issue else "")
    return f"{refused} (ssl_certfile {files.certfile}; {heard})"


def _client_certificate_issue(files: TlsFiles, now: Callable[[], datetime]) -> str | None:
    """What is wrong with the configured client certificate, as far as its file can tell."""
    mine = read_certificates(files.certfile) if files.certfile else []
    if not mine:
        return None
    cert, moment = mine[0], now()
    if cert.not_after < moment:
        return f"expired on {cert.not_after:%Y-%m-%d}"
    if cert.not_before > moment:
        return f"not valid before {cert.not_before:%Y-%m-%d}"
    if files.cafile and not _issued_by(cert, files.cafile):
        return (f"it is signed by {cert.issuer_name!r}, not by the CA in {files.cafile_key}; {files.peer} must "
                "trust the CA that signed it")
    return None


def _issued_by(cert: Certificate, cafile: str | Path) -> bool:
    """Whether a certificate in `cafile` is the issuer of `cert` (True when the file cannot tell)."""
    authorities = read_certificates(cafile)
    return not authorities or any(ca.subject == cert.issuer for ca in authorities)
