"""A PEM file's certificates are read for their names and dates, and anything else is skipped, never raised."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pem_files import certificate, name, write_pem

from karafkad.clients.tls.certificates import read_certificates


class TestReadCertificates:
    def test_names_and_dates_of_every_certificate_in_order(self, tmp_path: Path) -> None:
        """A bundle gives each certificate's subject and issuer (as DER and by common name) and validity."""
        leaf = certificate("karafkad", "test CA", datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC))
        ca = certificate("test CA", "test CA", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
                         datetime(2060, 1, 1, tzinfo=UTC))  # after 2049: GeneralizedTime
        first, second = read_certificates(write_pem(tmp_path / "chain.pem", leaf, ca))
        assert (first.subject_name, first.issuer_name) == ("karafkad", "test CA")
        assert first.issuer == second.subject == name("test CA")
        assert first.not_after == datetime(2020, 1, 2, tzinfo=UTC)
        assert second.not_before == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
        assert second.not_after == datetime(2060, 1, 1, tzinfo=UTC)

    def test_the_projects_own_certificates_read_alike(self, tmp_path: Path) -> None:
        """Text around the PEM blocks (openssl's `x509 -text` dumps, comments) is ignored."""
        path = write_pem(tmp_path / "c.pem", certificate("a", "b", datetime(2025, 1, 1, tzinfo=UTC),
                                                         datetime(2026, 1, 1, tzinfo=UTC)))
        path.write_text("Certificate:\n    Data: ...\n" + path.read_text())
        assert [c.subject_name for c in read_certificates(path)] == ["a"]

    def test_what_cannot_be_read_gives_nothing(self, tmp_path: Path) -> None:
        """A missing file, a key file, and a block that is not DER give no certificate and no exception."""
        assert read_certificates(tmp_path / "missing.pem") == []
        key = tmp_path / "client.key"
        key.write_text("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n")
        assert read_certificates(key) == []
        junk = tmp_path / "junk.pem"
        junk.write_text("-----BEGIN CERTIFICATE-----\nMIIBfzCC\n-----END CERTIFICATE-----\n")
        assert read_certificates(junk) == []
