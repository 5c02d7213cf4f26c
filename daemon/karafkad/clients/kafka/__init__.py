"""Kafka as karafkad uses it.

`types` names the record, consumer and producer karafkad uses (Protocols that
kafka-python's classes fit); `consumers` makes consumers with karafkad's
settings; `producing` turns a message's parts into what kafka-python's
producer takes, and makes that producer; `failures` says what a Kafka client
failure means, in one function (`explain`, secrets masked), and folds
kafka-python's repeated lines about a failed connection into one of its own
(`reachability` words a broker that cannot be reached); `codecs` says which
compression codecs can be read; `admin` and `reader` are the cluster and its
topics as the operator commands see them. What works around kafka-python
itself, reading its private state, is kept apart in `workarounds`.
"""
