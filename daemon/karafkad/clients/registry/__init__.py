"""The Schema Registry as karafkad uses it: its HTTP API, the Confluent wire format, and the records' codecs.

`api` asks the registry (a schema by id, a subject's versions, registering
one), `store` keeps the compiled writer schemas by id for the process's life
and says whether the registry answers, `wire` reads and writes the framing,
and `avro`, `protobuf` and `json_schema` decode and encode records with a
registered schema (fastavro and protobuf's runtime, loaded only when a route
needs them: `extras`). Laid out as confluent-kafka lays out its own registry
client and serializers, below both the routes (which decode) and the
producer (which encodes), so that the two share one copy of each codec.
"""
