"""Fuzzing the routes-file loader: whatever the bytes, the answer is a Config or a ConfigError, never a crash or a hang.

Four sources of input, each its own test: arbitrary bytes; YAML built from the routes file's own keys with
random values (so the schema checks, the typing and the cross-checks are reached, not only the parser);
byte- and line-level mutations of valid and broken files (the example, the unit corpus and the broken-routes
corpus); and random environments for `${VAR}` interpolation. Loaded files are also compiled into a
RouteTable (handlers, inline schemas, filters, job options), which must give only ConfigError too.

The suite runs 30 examples per test (a few seconds, the same ones each time). A long run (see docs/security.md):

    KARAFKAD_FUZZ_EXAMPLES=25000 .venv/bin/python -m pytest tests/unit/config/test_fuzz_config.py -q

Every failing input a fuzzing run found is kept in TestRegressions.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from karafkad.config.loading import parse_config
from karafkad.config.routes_schema import every_schema_key
from karafkad.config.settings import Config
from karafkad.errors import ConfigError
from karafkad.routes.table import build_route_table

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = int(os.environ.get("KARAFKAD_FUZZ_EXAMPLES", "30"))
"""Examples per test: a short, repeatable run in the suite; set the variable for a long (random) run."""
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="KARAFKAD_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])

HANDLER = "def f(params, meta=None):\n    return params\n"


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """A folder with a handler module `kd_fuzz_h` (f), the default plugin folder and a schema file."""
    base = Path(tempfile.mkdtemp(prefix="kd-fuzz-"))
    (base / "handlers").mkdir()
    (base / "handlers" / "kd_fuzz_h.py").write_text(HANDLER)
    (base / "schemas").mkdir()
    (base / "schemas" / "s.json").write_text('{"type": "object"}')
    yield base
    shutil.rmtree(base, ignore_errors=True)


def load(raw: bytes, folder: Path, environ: dict[str, str] | None = None) -> Config | None:
    """parse_config, then compile the routes; only ConfigError may come out. The Config, or None."""
    try:
        config = parse_config(raw, folder / "routes.yaml", environ or {})
    except ConfigError as exc:
        _check_problems(exc, raw)
        return None
    # What the daemon prints of a loaded file must work too.
    json.dumps(config.kafka.describe(), default=str)
    config.redis.describe()
    config.kafka.client_options()
    try:
        build_route_table(config)
    except ConfigError as exc:
        _check_problems(exc, raw)
    return config


def _check_problems(exc: ConfigError, raw: bytes) -> None:
    lines = raw.count(b"\n") + 2
    assert exc.problems, "a ConfigError without a problem"
    for problem in exc.problems:
        assert isinstance(problem.message, str) and problem.message
        assert 0 <= problem.line <= lines, problem
        str(problem)


# --- 1. arbitrary bytes -----------------------------------------------------------------------------------

yaml_bytes = st.lists(st.sampled_from([b"groups:", b"routes:", b"\n", b"  ", b"- ", b": ", b"{", b"}", b"[", b"]",
                                       b"&a ", b"*a", b"<<: ", b"!!", b"!!python/object:os.system", b"'", b'"',
                                       b"#", b"|", b">", b"${X}", b"$${", b"\xef\xbb\xbf", b"\xff", b"\x00",
                                       b"\t", b"\r", b"%YAML 1.1\n", b"---\n", b"...\n", b"? ", b"0x1F", b"1e999",
                                       b"~", b"null", b"true", b"topic", b"handler", b"kd_fuzz_h.f"]),
                      max_size=60).map(b"".join)


class TestArbitraryBytes:
    @FUZZ
    @given(raw=st.binary(max_size=3000))
    def test_random_bytes(self, folder: Path, raw: bytes) -> None:
        """Any bytes at all: a Config or a ConfigError."""
        load(raw, folder)

    @FUZZ
    @given(raw=yaml_bytes)
    def test_random_yaml_tokens(self, folder: Path, raw: bytes) -> None:
        """Bytes made of YAML's own punctuation, tags, anchors, BOMs and the routes file's words."""
        load(raw, folder)


# --- 2. documents built from the schema's keys ---------------------------------------------------------------


KEYS = sorted(every_schema_key())
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(), st.text(max_size=30),
    st.sampled_from(["kd_fuzz_h.f", "kd_fuzz_h.missing", "os.system", "t", "topic-1", "dead", "json", "pickle",
                     "skip", "dead_letter", "earliest", "SASL_PLAINTEXT", "SCRAM-SHA-256", "params.n > 1",
                     "params.__class__", "exists(params.a)", "schemas/s.json", "../../etc/passwd", "redis://u:p@h/0",
                     "{topic}-{offset}", "{key.__class__}", "${HOME}", "${UNSET}", "${X:1}", "$${X}", "127.0.0.1:9092",
                     "-1", "1e400", "", " ", "\x85", "\u2028"]),
)
values = st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5),
                      max_leaves=25)
routes = st.lists(st.dictionaries(st.sampled_from(KEYS), values, max_size=8)
                  .map(lambda r: {"topic": "t", "handler": "kd_fuzz_h.f", **r}), min_size=1, max_size=3)
groups = st.dictionaries(st.sampled_from(["g", "shop", "a.b", "bad group", "x" * 250]),
                         st.fixed_dictionaries({"routes": routes}, optional=dict.fromkeys(
                             ("threads", "auto_offset_reset", "session_timeout_ms", "instance_id"), values)),
                         min_size=1, max_size=2)
documents = st.fixed_dictionaries({"groups": groups}, optional={
    section: st.dictionaries(st.sampled_from(KEYS), values, max_size=6)
    for section in ("kafka", "redis", "plugins", "daemon", "defaults")} | {"version": values})


class TestStructuredDocuments:
    @FUZZ
    @given(document=documents, as_json=st.booleans())
    def test_documents_of_the_routes_files_keys(self, folder: Path, document: dict[str, Any], as_json: bool) -> None:
        """Mappings of the routes file's own keys with random values (written as YAML or JSON)."""
        text = json.dumps(document, default=str) if as_json else yaml.safe_dump(document, allow_unicode=True)
        load(text.encode("utf-8", "surrogatepass"), folder)

    @FUZZ
    @given(document=documents, anchors=st.integers(1, 5), fan=st.integers(1, 16))
    def test_documents_with_anchors_aliases_and_merges(self, folder: Path, document: dict[str, Any], anchors: int,
                                                        fan: int) -> None:
        """A document with alias chains and merge keys appended: expanded within limits, or refused."""
        text = yaml.safe_dump(document)
        chain = "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]\n" for i in range(1, anchors))
        load(f"a0: &a0 [1]\n{chain}x: {{<<: {{k: *a{anchors - 1}}}}}\n{text}".encode(), folder)


# --- 3. mutations of real files -----------------------------------------------------------------------------------


def _corpus() -> list[bytes]:
    files = [ROOT / "config" / "routes.yaml", *sorted((ROOT / "tests" / "fixtures" / "broken_routes").glob("*"))]
    corpus = [f.read_bytes() for f in files if f.is_file()]
    minimal = b"groups:\n  g:\n    routes:\n      - topic: t\n        handler: kd_fuzz_h.f\n"
    return [minimal, *corpus]


CORPUS = _corpus()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "splice", "swap_lines", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(
                [b"\n", b"  ", b"- ", b": ", b"&x ", b"*x", b"<<: *x\n", b"${A}", b"!!str ", b"\t", b"\xc3"]))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif kind == "duplicate":
            end = min(len(data), at + draw(st.integers(1, 200)))
            data[end:end] = data[at:end]
        elif kind == "splice":
            other = draw(st.sampled_from(CORPUS))
            start = draw(st.integers(0, len(other)))
            data[at:at] = other[start:start + draw(st.integers(1, 300))]
        elif kind == "swap_lines":
            lines = bytes(data).split(b"\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


class TestMutatedFiles:
    @FUZZ
    @given(raw=mutated())
    def test_byte_and_line_mutations_of_real_files(self, folder: Path, raw: bytes) -> None:
        """Bit flips, inserted bytes, deleted and duplicated runs, splices between files, swapped lines."""
        load(raw, folder)


# --- 4. interpolation ----------------------------------------------------------------------------------------------

env_values = st.one_of(st.text(max_size=20), st.sampled_from(["1", "-0", "0x10", "1e999", "true", "~", "null",
                                                                "[1, 2]", "{a: 1}", "*a", "&a x", "'", '"', "#x",
                                                                "${Y}", "a: b", "- x", "|", "\n", "\x00"]))


passwords = st.none() | st.one_of(
    st.integers(10 ** 5, 10 ** 12).map(str),  # typed as a number once substituted
    st.text(min_size=4, max_size=20).map(lambda t: "pw" + t),
    st.sampled_from(["0x1F2E3D", "1e999pw", "pw: x", "pw #x", "&pw", "*pwd", "'pw'", "[pw, 1]"]),
)


class TestInterpolation:
    @FUZZ
    @given(environ=st.dictionaries(st.sampled_from(["A", "B", "Y"]), env_values, max_size=3),
           password=passwords,
           template=st.sampled_from([
               "kafka:\n  bootstrap_servers: ${A}\n  client_id: ${B:x}\n",
               "redis:\n  url: ${A}\n  password: ${PW}\n",
               "redis:\n  port: ${A:6379}\n  db: ${B}\n",
               "daemon:\n  shutdown_timeout: ${A}\n  http_port: ${B:0}\n",
               "defaults:\n  queue: ${A}\n  filter: ${B}\n",
               "kafka:\n  sasl_plain_password: '${PW}'\n  security_protocol: ${A:SASL_PLAINTEXT}\n",
           ]))
    def test_random_environments(self, folder: Path, environ: dict[str, str], password: str | None,
                                 template: str) -> None:
        """Any value of any variable, substituted and typed in place, gives a Config or a ConfigError, and a
        password that reaches a problem is never quoted."""
        if password is not None:
            environ = {**environ, "PW": password}
        raw = (template + "groups:\n  g:\n    routes:\n      - {topic: t, handler: kd_fuzz_h.f}\n").encode()
        try:
            parse_config(raw, folder / "routes.yaml", environ)
        except ConfigError as exc:
            _check_problems(exc, raw)
            others = [v for k, v in environ.items() if k != "PW"]
            if password and "${PW}" in template and not any(password in v for v in others):
                assert password not in str(exc), str(exc)


# --- every case a fuzzing run found ----------------------------------------------------------------------------------


class TestRegressions:
    """Inputs that fuzzing runs found, each once wrong; the line a problem names must be one an editor shows."""

    @pytest.mark.parametrize(("raw", "line"), [
        # A NEL (U+0085) inside a value: PyYAML counts it as a line break, so problems below it were
        # reported lines further down than the file has (line 13 of a 10-line file).
        (b"groups:\n  g:\n    instance_id: '\xc2\x85      '\n    routes:\n    - at_front:\n"
         b"      - - '\xc2\x85          '\n        - '\xc2\x85          '\n      handler: kd_fuzz_h.f\n"
         b"      topic: t\n    threads: null\n", 10),
        # LINE SEPARATOR and PARAGRAPH SEPARATOR likewise.
        ("groups:\n  g:\n    instance_id: '\u2028\u2029'\n    threads: null\n    routes: []\n".encode(), 5),
        # A lone CR: "groups:\r0x1F" is one line, not three.
        (b"groups:\r0x1F", 1),
    ])
    def test_lines_are_counted_as_editors_count_them(self, folder: Path, raw: bytes, line: int) -> None:
        """Only \\n starts a new line in a problem's position (NEL, U+2028/9 and a lone CR do not)."""
        with pytest.raises(ConfigError) as info:
            parse_config(raw, folder / "routes.yaml", {})
        assert max(p.line for p in info.value.problems) == line, info.value.problems
        _check_problems(info.value, raw)

    def test_a_column_after_a_nel_counts_from_the_line_start(self, folder: Path) -> None:
        """The column of a value after a NEL on the same line counts characters from the last \\n."""
        raw = "daemon: {log_level: '\x85', http_port: x}\n".encode() + ROUTE_LINES
        with pytest.raises(ConfigError) as info:
            parse_config(raw, folder / "routes.yaml", {})
        [problem] = [p for p in info.value.problems if p.path == "daemon.http_port"]
        assert (problem.line, problem.column) == (1, 26)


ROUTE_LINES = b"groups:\n  g:\n    routes:\n      - {topic: t, handler: kd_fuzz_h.f, on_error: skip}\n"
