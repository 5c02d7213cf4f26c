"""The documentation agrees with the code: the generated reference, RQ's retry rule, the tests and files it names."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
import yaml
from redis import Redis
from rq.job import Job

from karafkad.config.routes_schema import every_schema_key, routes_schema

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "routes-reference.md"


def _gen_docs() -> ModuleType:
    """scripts/gen_docs.py, the generator scripts/gen-docs runs."""
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rq_waits(retries: int, intervals: list[int]) -> list[int]:
    """The seconds the installed RQ waits before each retry of a failed job (Job.get_retry_interval)."""
    job = Job.create("m.f", connection=Redis())  # no command is sent
    job.retry_intervals = intervals
    waits = []
    for attempt in range(1, retries + 1):
        job.retries_left = retries - attempt + 1
        waits.append(job.get_retry_interval())
    return waits


class TestRoutesReference:
    def test_the_committed_reference_is_what_the_script_generates(self) -> None:
        """docs/routes-reference.md is scripts/gen-docs' output for the current schema (run it after a change)."""
        assert REFERENCE.read_text("utf-8") == _gen_docs().render(), "run scripts/gen-docs"

    def test_every_key_of_the_schema_is_in_the_reference(self) -> None:
        """Each property the routes file may have appears as a row of some table."""
        rows = {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", REFERENCE.read_text("utf-8"), re.MULTILINE)}
        assert every_schema_key() - rows == set()

    def test_the_check_mode_reports_drift(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
        """scripts/gen-docs --check exits 1 with a diff when the file differs, and rewrites it without --check."""
        gen = _gen_docs()
        stale = tmp_path / "routes-reference.md"
        stale.write_text("old\n")
        monkeypatch.setattr(gen, "OUTPUT", stale)
        monkeypatch.setattr(gen, "ROOT", tmp_path)
        assert gen.main(["--check"]) == 1
        assert "-old" in capsys.readouterr().out
        assert gen.main([]) == 0
        assert stale.read_text() == gen.render()
        assert gen.main(["--check"]) == 0


class TestRetryRule:
    """docs/handlers.md and the schema state RQ's retry interval rule; the installed RQ must agree."""

    def test_the_handlers_table_is_what_rq_does(self) -> None:
        """Each row of the table for intervals [5, 30, 120] is what RQ waits before each retry."""
        text = (DOCS / "handlers.md").read_text("utf-8")
        rows = re.findall(r"^\| (\d) \| ([\d, ]+) \|$", text, re.MULTILINE)
        assert len(rows) == 5
        for retries, waits in rows:
            assert rq_waits(int(retries), [5, 30, 120]) == [int(w) for w in waits.split(", ")], retries

    def test_the_schema_description_states_the_same_rule(self) -> None:
        """The examples in job.retry's description (also in the reference) are what RQ does."""
        description = routes_schema()["$defs"]["job"]["properties"]["retry"]["description"]
        assert "the FIRST interval repeats for the early retries" in description
        assert "(max 5, intervals [5, 30, 120] waits 5, 5, 5, 30, 120)" in description
        assert rq_waits(5, [5, 30, 120]) == [5, 5, 5, 30, 120]
        assert "(max 2 waits 30, 120)" in description
        assert rq_waits(2, [5, 30, 120]) == [30, 120]

    def test_a_single_interval_is_used_for_every_retry(self) -> None:
        """`intervals: 10` waits 10 before each retry."""
        assert rq_waits(3, [10]) == [10, 10, 10]


@cache
def _defined(path: Path) -> set[str]:
    """`name` and `Class::name` of every test function in a test file."""
    tree = ast.parse(path.read_text("utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(f"{node.name}::{item.name}" for item in node.body if isinstance(item, ast.FunctionDef))
    return names


def cited_tests(doc: Path) -> list[tuple[str, str]]:
    """(file, name) of each test a document names: `tests/x.py::[Class::]test` or `::test` (same file and class
    as the reference before it)."""
    found = []
    last: list[str] = []
    for ref in re.findall(r"`((?:tests/[\w/]+\.py)?::[\w:]+)`", doc.read_text("utf-8")):
        parts = ref.split("::")
        parts = parts if parts[0] else [*last[:-1], parts[-1]]
        last = parts
        found.append((parts[0], "::".join(parts[1:])))
    return found


class TestGuarantees:
    def test_every_named_test_exists(self) -> None:
        """Each test docs/guarantees.md cites is defined in the file it names (a rename must update the page)."""
        references = cited_tests(DOCS / "guarantees.md")
        assert len(references) >= 40
        missing = [f"{file}::{name}" for file, name in references if name not in _defined(ROOT / file)]
        assert missing == []

    def test_every_guarantee_of_the_design_is_a_section(self) -> None:
        """The six promises of the design brief each have a section."""
        headings = re.findall(r"^## (.+)$", (DOCS / "guarantees.md").read_text("utf-8"), re.MULTILINE)
        for promise in ("At-least-once", "No duplicate jobs", "Graceful drain", "Backpressure", "Bad input",
                        "Nothing runs that the operator did not write"):
            assert any(h.startswith(promise) for h in headings), promise


class TestRouteTestsPage:
    def test_the_job_options_listed_are_those_compared(self) -> None:
        """docs/testing.md names every key of a job's `options` (Job.options, and what a route test compares)."""
        from karafkad.config.settings import JobOptions
        from karafkad.testing.routes import job_options

        keys = set(job_options(SimpleNamespace(spec=SimpleNamespace(job=JobOptions()))))  # type: ignore[arg-type]
        text = (DOCS / "testing.md").read_text("utf-8")
        listed = re.findall(r"`options` \((?:only the keys given are compared: )?([^)]*)\)", text)
        assert len(listed) == 2
        for entry in listed:
            assert set(re.findall(r"`(\w+)`", entry)) == keys


class TestLinks:
    @pytest.mark.parametrize("doc", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
    def test_relative_links_point_at_files_that_exist(self, doc: Path) -> None:
        """Every relative link of a page in docs/ reaches a file of the repository."""
        links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text("utf-8"))
        broken = [link for link in links if "://" not in link and not (doc.parent / link).exists()]
        assert broken == []

    def test_the_example_route_tests_are_valid_yaml_for_their_routes(self) -> None:
        """config/routes_test.yaml names config/routes.yaml (the docs point at both)."""
        from karafkad.testing.suite import load_route_tests

        assert load_route_tests(ROOT / "config" / "routes_test.yaml", environ={}).routes == ROOT / "config" / \
            "routes.yaml"
        assert json.loads((ROOT / "config" / "routes.schema.json").read_text()) == routes_schema()


class TestReadmeWalkThrough:
    def test_the_readmes_routes_file_is_config_routes_yaml(self) -> None:
        """The README's two YAML blocks walking through config/routes.yaml say what the file says, key for key
        (a route shown without its `schema:` made the demo's dead letter naming two routes look wrong)."""
        readme = (ROOT / "README.md").read_text("utf-8")
        section = readme[readme.index("[`config/routes.yaml`](config/routes.yaml) is a small shop"):]
        blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)[:2]
        shown: dict[str, object] = {}
        for block in blocks:
            shown.update(yaml.safe_load(block))
        written = yaml.safe_load((ROOT / "config" / "routes.yaml").read_text("utf-8"))
        written.pop("version")
        assert shown == written


PACKAGE = ROOT / "daemon" / "karafkad"


def _packages() -> list[Path]:
    """Every package folder of karafkad (those with an __init__.py), the package itself first."""
    return sorted((p.parent for p in PACKAGE.rglob("__init__.py")), key=lambda p: (p != PACKAGE, str(p)))


def _children(package: Path) -> list[str]:
    """The names of a package's modules (without __init__) and subpackages."""
    modules = [p.stem for p in package.glob("*.py") if p.name != "__init__.py"]
    return sorted(modules + [p.name for p in package.iterdir() if (p / "__init__.py").exists()])


def _tables() -> dict[str, list[str]]:
    """architecture.md's "The modules": `### \\`PATH/\\`` heading -> the module names of its table's first column."""
    text = (DOCS / "architecture.md").read_text("utf-8")
    modules = text[text.index("\n## The modules"):]
    modules = modules[:modules.index("\n## ", 1)]
    tables = {}
    for section in re.split(r"^### ", modules, flags=re.MULTILINE)[1:]:
        heading = re.match(r"`([\w/]+)/`", section)
        assert heading, section.splitlines()[0]
        tables[heading.group(1)] = re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)
    return tables


class TestModulesAreNamed:
    """Every module is named where a reader looks for it: its package's docstring and docs/architecture.md."""

    @pytest.mark.parametrize("package", _packages(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
    def test_each_package_docstring_names_its_modules(self, package: Path) -> None:
        """An `__init__.py` names each of its package's modules and subpackages in backticks (a new module is
        introduced where the package is)."""
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text("utf-8"))) or ""
        unnamed = [name for name in _children(package) if f"`{name}`" not in docstring]
        assert unnamed == []

    def test_architecture_names_every_module_once(self) -> None:
        """Each package with modules has a `### \\`path/\\`` table in docs/architecture.md naming each of its
        modules once, and no module that is not there."""
        tables = _tables()
        for package in _packages():
            modules = sorted(p.stem for p in package.glob("*.py") if p.name != "__init__.py")
            key = "karafkad" if package == PACKAGE else str(package.relative_to(PACKAGE))
            if modules:
                assert sorted(tables.get(key, [])) == modules, key
        known = {"karafkad"} | {str(p.relative_to(PACKAGE)) for p in _packages()}
        assert set(tables) <= known

    def test_the_floors_are_the_import_contract_s_layers(self) -> None:
        """The floors table lists setup.cfg's `layers` contract, top down, neighbours on one row."""
        config = configparser.ConfigParser()
        config.read(ROOT / "setup.cfg")
        layers = [{name.strip().removeprefix("karafkad.") for name in line.split("|")}
                  for line in config["importlinter:contract:layers"]["layers"].split("\n") if line.strip()]
        text = (DOCS / "architecture.md").read_text("utf-8")
        floors_section = text[text.index("## The floors"):text.index("## The modules")]
        floors = [{name.removesuffix("/").removesuffix(".py") for name in re.findall(r"`([\w/.]+)`", first)}
                  for first in re.findall(r"^\| ((?:`[\w/.]+`(?: · )?)+) \|", floors_section, re.MULTILINE)]
        assert floors == layers

    def test_the_readme_layout_names_every_floor(self) -> None:
        """The README's Layout block names each subpackage (`name/`) and module (`name.py`) of the package itself,
        and no floor the package does not have."""
        readme = (ROOT / "README.md").read_text("utf-8")
        block = re.search(r"^## Layout\n\n```\n(.*?)```", readme, re.MULTILINE | re.DOTALL)
        assert block
        entries = " ".join(re.findall(r"^  (\S.*?)(?:\s{2,}|$)", block.group(1), re.MULTILINE))  # the package's
        named = set(re.findall(r"\b([a-z_]+)/", entries)) | set(re.findall(r"\b([a-z_]+)\.py\b", entries))
        floors = {name for name in _children(PACKAGE) if name != "__main__"}
        assert named == floors

