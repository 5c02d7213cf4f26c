"""Compiling checked settings into a RouteTable: handlers found, schemas and filters compiled, all or nothing."""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path

import pytest

from karafkad.errors import ConfigError, FilterRuntimeError, Problem
from karafkad.routes.table import RouteTable, load_routes

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "routes.yaml"
_names = itertools.count()


pytestmark = pytest.mark.usefixtures("isolated_imports")


@pytest.fixture
def module(tmp_path: Path) -> str:
    """A handler module (unique name) in tmp_path/handlers, with one- and two-argument functions."""
    name = f"kd_routes_{next(_names)}"
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / f"{name}.py").write_text(textwrap.dedent("""\
        def one(params):
            return params

        def two(params, meta):
            return params, meta

        def veto(params):
            return False
        """))
    return name


def build(folder: Path, text: str) -> RouteTable:
    """Load and compile `text` as folder/routes.yaml."""
    path = folder / "routes.yaml"
    path.write_text(textwrap.dedent(text))
    return load_routes(path, {})


def problems(folder: Path, text: str) -> list[Problem]:
    """Every problem compiling `text` reports."""
    with pytest.raises(ConfigError) as info:
        build(folder, text)
    return info.value.problems


class TestExampleTable:
    def test_the_example_compiles(self) -> None:
        """config/routes.yaml gives three groups and five routes, with their queues and dead-letter topic."""
        table = load_routes(EXAMPLE, {})
        assert list(table.groups) == ["shop", "analytics", "payments"]
        assert [r.name for r in table.routes] == ["orders", "big-orders", "page-views", "audit", "payments"]
        assert table.queues() == ("alerts", "analytics", "orders", "payments")
        assert table.dead_letter_topics() == ("shop.dead-letters",)

    def test_routes_by_topic(self) -> None:
        """Both routes of `orders` are found by topic, in file order."""
        shop = load_routes(EXAMPLE, {}).groups["shop"]
        assert [r.name for r in shop.by_topic["orders"]] == ["orders", "big-orders"]
        assert shop.spec.topics == ("orders",)

    def test_compiled_parts(self) -> None:
        """Handlers, hooks (and whether they take meta), schema, filter and decoder are ready to call."""
        orders, big, views, audit, payments = load_routes(EXAMPLE, {}).routes
        assert orders.handler.path == "orders.process_order" and not orders.pass_meta
        assert big.pass_meta  # alert_big_order(params, meta)
        assert [(hook.path, takes_meta) for hook, takes_meta in orders.hooks] == [("orders.is_real_order", True)]
        assert orders.needs_meta and not views.needs_meta
        assert orders.validate is not None and orders.schema_document["title"] == "An order placed in the shop"
        assert views.validate is None
        assert audit.decode(b"# line") == "# line"
        assert views.decode(b'{"page": "/"}') == {"page": "/"}
        assert payments.spec.registry and payments.spec.subjects == ("payments-value",)

    def test_filter_is_a_plain_function(self) -> None:
        """Route.filter takes the seven message fields positionally and returns a bool."""
        orders = load_routes(EXAMPLE, {}).routes[0]
        assert orders.filter is not None
        assert orders.filter({"total": 5, "currency": "EUR"}, None, {}, "orders", 0, 0, 0) is True
        assert orders.filter({"total": 5, "currency": "GBP"}, None, {}, "orders", 0, 0, 0) is False
        with pytest.raises(FilterRuntimeError):
            orders.filter({"total": "5", "currency": "EUR"}, None, {}, "orders", 0, 0, 0)

    def test_job_templates_and_ids(self) -> None:
        """Each route has its queue's job template and a job id prefix per topic."""
        orders = load_routes(EXAMPLE, {}).routes[0]
        assert (orders.template.queue, orders.template.func_name) == ("orders", "orders.process_order")
        assert orders.id_prefixes["orders"].startswith("kd-orders-")

    def test_consumer_settings(self) -> None:
        """A group's consumer settings are what a reload compares."""
        shop = load_routes(EXAMPLE, {}).groups["shop"]
        assert shop.consumer_settings()[:2] == (("orders",), 2)


class TestAllOrNothing:
    def test_every_problem_of_every_route_at_once(self, tmp_path: Path, module: str) -> None:
        """Handler, hook, schema, filter and pass_meta problems of all routes are reported together."""
        found = problems(tmp_path, f"""\
            groups:
              g:
                routes:
                  - topic: a
                    handler: {module}.nope
                    on_error: skip
                  - topic: b
                    handler: {module}.one
                    before_enqueue: [{module}.veto, {module}.gone]
                    schema: {{type: strin}}
                    filter: params.x = 1
                    pass_meta: true
                    on_error: skip
            """)
        assert [p.path for p in found] == [
            "groups.g.routes[0].handler",
            "groups.g.routes[1].before_enqueue[1]",
            "groups.g.routes[1].schema",
            "groups.g.routes[1].filter",
            "groups.g.routes[1].pass_meta",
        ]
        assert "it defines: one, two, veto" in found[0].message

    def test_a_single_hook_is_reported_at_its_key(self, tmp_path: Path, module: str) -> None:
        """before_enqueue written as one path is reported without an index."""
        found = problems(tmp_path, f"""\
            groups:
              g:
                routes:
                  - {{topic: a, handler: {module}.one, before_enqueue: {module}.gone, on_error: skip}}
            """)
        assert [p.path for p in found] == ["groups.g.routes[0].before_enqueue"]

    def test_structure_problems_stop_before_imports(self, tmp_path: Path, module: str) -> None:
        """A file that fails the schema is refused before any handler is imported."""
        problems(tmp_path, f"groups:\n  g:\n    routes:\n      - {{topic: a, handler: {module}.one, queue: 'a b'}}\n")
        assert module not in sys.modules


class TestFilterErrors:
    def test_points_at_the_character_of_a_plain_value(self, tmp_path: Path, module: str) -> None:
        """FILE:LINE:COL is the offending character; the message shows the expression with a caret."""
        (problem,) = problems(tmp_path, f"""\
            groups:
              g:
                routes:
                  - topic: a
                    handler: {module}.one
                    on_error: skip
                    filter: params.total > 1 and params.__class__
            """)
        line = (tmp_path / "routes.yaml").read_text().splitlines()[6]
        assert (problem.line, problem.column) == (7, line.index("__class__") + 1)
        assert problem.message.splitlines() == [
            "'__class__' is not a field that can be read; write params[\"__class__\"] for a field of that name "
            "(column 29 of the expression)",
            "    params.total > 1 and params.__class__",
            "                                ^",
        ]

    def test_points_inside_a_quoted_value(self, tmp_path: Path, module: str) -> None:
        """In a quoted value the column skips the opening quote."""
        (problem,) = problems(tmp_path, f"""\
            groups:
              g:
                routes:
                  - {{topic: a, handler: {module}.one, on_error: skip, filter: "params.x ** 2 > 1"}}
            """)
        line = (tmp_path / "routes.yaml").read_text().splitlines()[3]
        assert (problem.line, problem.column) == (4, line.index("**") + 1)
        assert "operator ** is not supported" in problem.message

    def test_block_scalar_points_at_the_key(self, tmp_path: Path, module: str) -> None:
        """A filter written over several lines is located at its key, the column given in the message."""
        (problem,) = problems(tmp_path, f"""\
            groups:
              g:
                routes:
                  - topic: a
                    handler: {module}.one
                    on_error: skip
                    filter: >-
                      params.total > 1
                      and lambda: 1
            """)
        assert (problem.line, problem.column) == (7, 9)
        assert "(column 22 of the expression)" in problem.message

    def test_a_comparison_the_schema_makes_fail_is_refused_at_its_operator(self, tmp_path: Path,
                                                                          module: str) -> None:
        """`params.amount > "zero"` with amount a number in the route's schema: every message would be a
        dead letter ("cannot compare number with string"); said when the file is read."""
        (problem,) = problems(tmp_path, f"""\
            groups:
              g:
                routes:
                  - topic: a
                    handler: {module}.one
                    on_error: skip
                    schema: {{type: object, properties: {{amount: {{type: number}}}}}}
                    filter: params.amount > "zero"
            """)
        line = (tmp_path / "routes.yaml").read_text().splitlines()[7]
        assert (problem.path, problem.line, problem.column) == ("groups.g.routes[0].filter", 8, line.index(">") + 1)
        assert problem.message.startswith("params.amount is number in the route's schema, so `> \"zero\"` fails "
                                          "for every message (cannot compare number with string)")


class TestPassMeta:
    @pytest.mark.parametrize(("handler", "extra", "expected"), [
        ("one", "", False),
        ("two", "", True),
        ("two", "pass_meta: false", False),
        ("two", "pass_meta: true", True),
    ])
    def test_meta_passed_when_the_handler_takes_it(self, tmp_path: Path, module: str, handler: str, extra: str,
                                                   expected: bool) -> None:
        """pass_meta defaults to whether the handler takes a second argument; the route may say otherwise."""
        table = build(tmp_path, f"""\
            groups:
              g:
                routes:
                  - topic: a
                    handler: {module}.{handler}
                    on_error: skip
                    {extra}
            """)
        assert table.routes[0].pass_meta is expected

    @pytest.mark.parametrize("batch", ["false", "true"])
    def test_pass_meta_needs_a_second_parameter(self, tmp_path: Path, module: str, batch: str) -> None:
        """A handler that cannot take meta is refused at load, for single and batch routes."""
        (problem,) = problems(tmp_path, f"""\
            groups:
              g:
                routes:
                  - {{topic: a, handler: {module}.one, pass_meta: true, batch: {batch}, on_error: skip}}
            """)
        assert problem.path == "groups.g.routes[0].pass_meta"
        assert f"{module}.one takes one argument" in problem.message


class TestSchemas:
    def test_schema_file_relative_to_the_routes_file(self, tmp_path: Path, module: str) -> None:
        """A schema file beside routes.yaml is loaded and compiled once."""
        (tmp_path / "s.json").write_text('{"type": "object", "required": ["id"]}')
        route = build(tmp_path, f"""\
            groups:
              g:
                routes:
                  - {{topic: a, handler: {module}.one, schema: s.json, on_error: skip}}
            """).routes[0]
        assert route.validate is not None
        assert route.validate({"id": 1}) is None
        assert route.validate({}) == '(root): "id" is a required property'
