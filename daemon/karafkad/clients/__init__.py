"""The clients: Kafka, Redis and TLS as karafkad uses them, each in its own folder.

`kafka` holds the Kafka client as karafkad uses it (with kafka-python's
workarounds together in `kafka/workarounds`), `redis` the Redis connection and
what its failures mean, `tls` why a TLS connection failed (for both). May
import `karafkad.observability`, `karafkad.config` and the bottom modules.
"""
