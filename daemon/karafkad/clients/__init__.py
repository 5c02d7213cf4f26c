"""Layer 1b, the clients: Kafka and Redis as karafkad uses them.

`kafka_types` names the record, consumer and producer karafkad uses
(Protocols that kafka-python's classes fit); `consumers` makes Kafka
consumers with karafkad's settings; `outgoing` turns a message's parts into
what kafka-python's producer takes (and makes that producer); `kafkacompat` holds the one narrow fix to
kafka-python; `kafkaerrors` says what a Kafka client failure means (a
refused login, a failed TLS handshake); `tlscauses` says why a TLS
connection failed, for Kafka and Redis alike, reading the client's
certificate file where the peer's alert is vague (`certificates`);
`redisconn` makes Redis clients and says what their failures mean.
`codecs` says which compression codecs can be read; `fetchstate` reads what
kafka-python knows but does not say (positions, last stable offsets, a
batch it could not read); `fencing` notices a static member fenced by
another with its instance id; `closerace` drops the traceback of a
harmless race in kafka-python's close; `admin` and `reader` are the cluster and
topics as the operator commands see them. May import `karafkad.config` and
`karafkad.observability`.
"""
