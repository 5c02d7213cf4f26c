"""One section of the routes file given as keyword arguments (the producer API's), checked as the file checks it.

`Producer(bootstrap_servers=..., security_protocol=...)` and
`Producer(schema_registry={...})` take the keys of the routes file's `kafka`
and `schema_registry` sections; the same JSON Schema and the same SASL/SSL
rules check them, so what works in a routes file works there too.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from karafkad.config.checks import kafka_security_problems
from karafkad.config.loading import kafka_settings_of, registry_settings_of
from karafkad.config.routes_schema import routes_schema
from karafkad.config.schema_check import SchemaExplainer
from karafkad.config.settings import KafkaSettings, RegistrySettings
from karafkad.config.yamlfile import Document


def kafka_settings(**options: Any) -> KafkaSettings:
    """KafkaSettings from the keys of a routes file's `kafka` section, checked as that section is.

    ValueError lists every problem (unknown keys, wrong types, SASL/SSL settings that would not apply).
    """
    document = Document("kafka settings", options)
    problems = _section_explainer("kafka").problems(document)
    settings = None
    if not problems:
        settings = kafka_settings_of(options)
        # The routes file's own SASL/SSL rules.
        problems = kafka_security_problems(Document("kafka settings", {"kafka": options}), settings)
    if problems or settings is None:
        raise ValueError("; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems))
    return settings


def registry_settings(**options: Any) -> RegistrySettings:
    """RegistrySettings from the keys of a routes file's `schema_registry` section (url, username, password,
    ssl_cafile, ...), checked as that section is; ValueError lists every problem."""
    problems = _section_explainer("schemaRegistry").problems(Document("schema_registry settings", options))
    if problems:
        raise ValueError("; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems))
    return registry_settings_of(options)


@cache
def _section_explainer(name: str) -> SchemaExplainer:
    return SchemaExplainer({"$ref": f"#/$defs/{name}", "$defs": routes_schema()["$defs"]})
