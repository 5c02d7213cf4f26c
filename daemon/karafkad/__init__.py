"""karafkad: route Apache Kafka messages to RQ jobs, configured in YAML."""

__version__ = "0.1.0"
