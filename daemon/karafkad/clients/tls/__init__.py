"""Why a TLS connection failed, for Kafka and Redis alike: `causes` puts the cause in words, reading the
configured files where the peer's alert is vague, with `certificates` (what a certificate file says)."""
