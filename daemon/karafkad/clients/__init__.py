"""The clients: Kafka, Redis and TLS as karafkad uses them, each in its own folder.

`kafka` holds the Kafka client as karafkad uses it (with kafka-python's
workarounds together in `kafka/workarounds`), `redis` the Redis connection and
what its failures mean, `registry` the Schema Registry and the records framed
for it, `tls` why a TLS connection failed (for all of them). May
import `karafkad.observability`, `karafkad.config` and the bottom modules.
"""
