"""Build real RouteTables from small routes files written into a temp folder (no Kafka, no Redis)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from karafkad.routing import RouteTable, load_routes

HANDLERS = '''
def handle(params):
    return params


def handle_meta(params, meta):
    return params


def even(params, meta):
    return params["n"] % 2 == 0


def explode(params):
    raise ValueError("hook broke")
'''


def make_table(tmp_path: Path, groups: dict[str, Any], **sections: Any) -> RouteTable:
    """A compiled RouteTable for `groups`, with a handler module `h` (see HANDLERS) in a plugin folder."""
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    module = f"h_{abs(hash(str(tmp_path))) % 10**8}"
    (plugins / f"{module}.py").write_text(textwrap.dedent(HANDLERS))
    text = json.dumps({"plugins": {"paths": [str(plugins)]}, **sections, "groups": groups})
    text = text.replace('"h.', f'"{module}.')
    path = tmp_path / "routes.yaml"
    path.write_text(text)
    return load_routes(path, environ={})


class FakeRecord:
    """The fields of a kafka-python ConsumerRecord."""

    def __init__(self, offset: int, value: bytes | None, *, topic: str = "t", partition: int = 0,
                 key: bytes | None = None, headers: list[tuple[str, bytes | None]] | None = None) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = 1_700_000_000_000 + offset
        self.key = key
        self.value = value
        self.headers = headers or []


def records(values: list[Any], topic: str = "t", partition: int = 0, start: int = 0) -> list[FakeRecord]:
    return [FakeRecord(start + i, v if v is None or isinstance(v, bytes) else json.dumps(v).encode(),
                       topic=topic, partition=partition) for i, v in enumerate(values)]
