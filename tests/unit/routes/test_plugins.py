"""Finding handler and hook functions, only where the routes file allows, with errors that say why not."""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path

import pytest

from karafkad.errors import PluginError
from karafkad.routes.plugins import PluginLoader, accepts_two

_names = itertools.count()


pytestmark = pytest.mark.usefixtures("isolated_imports")


def plugin(folder: Path, source: str, name: str | None = None) -> str:
    """Write a plugin module with a name no other test uses; return its name."""
    name = name or f"kd_plugin_{next(_names)}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return name


def error(loader: PluginLoader, dotted: str) -> str:
    """The PluginError message resolving `dotted` gives."""
    with pytest.raises(PluginError) as info:
        loader.resolve(dotted)
    return str(info.value)


class TestResolve:
    def test_finds_a_function_in_a_plugin_folder(self, tmp_path: Path) -> None:
        """module.function from a plugin folder resolves to the function, with where it lives."""
        name = plugin(tmp_path, "def handle(params):\n    return params\n")
        found = PluginLoader([tmp_path]).resolve(f"{name}.handle")
        assert found.function({"a": 1}) == {"a": 1}
        assert (found.path, found.module, found.name) == (f"{name}.handle", name, "handle")
        assert found.file == str(tmp_path / f"{name}.py")
        assert not found.accepts_meta

    def test_packages_in_plugin_folders(self, tmp_path: Path) -> None:
        """A package in a plugin folder resolves by its dotted module path."""
        package = f"kd_pkg_{next(_names)}"
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        (tmp_path / package / "jobs.py").write_text("def run(params, meta):\n    return 1\n")
        found = PluginLoader([tmp_path]).resolve(f"{package}.jobs.run")
        assert found.module == f"{package}.jobs"
        assert found.accepts_meta

    def test_first_folder_wins(self, tmp_path: Path) -> None:
        """Plugin folders are searched in the order given."""
        name = f"kd_plugin_{next(_names)}"
        plugin(tmp_path / "a", "def f(params):\n    return 'a'\n", name)
        plugin(tmp_path / "b", "def f(params):\n    return 'b'\n", name)
        assert PluginLoader([tmp_path / "a", tmp_path / "b"]).resolve(f"{name}.f").function(None) == "a"

    def test_installed_package_only_when_named(self, tmp_path: Path) -> None:
        """An installed package resolves only when plugins.packages names it."""
        assert "module 'yaml' is not in the plugin folders" in error(PluginLoader([tmp_path]), "yaml.safe_load")
        found = PluginLoader([tmp_path], packages=["yaml"]).resolve("yaml.safe_load")
        assert found.function("a: 1") == {"a": 1}

    def test_activate_puts_folders_first_on_the_path_once(self, tmp_path: Path) -> None:
        """The folders go to the front of sys.path, as `rq worker` will have them, without repeats."""
        loader = PluginLoader([tmp_path / "a", tmp_path / "b"])
        loader.activate()
        loader.activate()
        assert sys.path[:2] == [str((tmp_path / "a").resolve()), str((tmp_path / "b").resolve())]
        assert sys.path.count(str((tmp_path / "a").resolve())) == 1


class TestResolveErrors:
    def test_not_a_dotted_path(self, tmp_path: Path) -> None:
        """A bare name is not a handler path."""
        assert "is not a dotted path such as orders.process_order" in error(PluginLoader([tmp_path]), "process")

    def test_module_not_in_the_plugin_folders(self, tmp_path: Path) -> None:
        """A module that is nowhere says where it was looked for."""
        message = error(PluginLoader([tmp_path]), "kd_nowhere.handle")
        assert message == f"module 'kd_nowhere' is not in the plugin folders ({tmp_path.resolve()})"

    def test_a_misspelt_module_gets_a_did_you_mean(self, tmp_path: Path) -> None:
        """A module name like one in the plugin folders (a file or a package) is suggested."""
        plugin(tmp_path, "def refund(params):\n    pass\n", name="kd_billing")
        (tmp_path / "kd_shipping").mkdir()
        (tmp_path / "kd_shipping" / "__init__.py").write_text("")
        assert error(PluginLoader([tmp_path]), "kd_biling.refund").endswith("(did you mean 'kd_billing'?)")
        assert error(PluginLoader([tmp_path]), "kd_shiping.f").endswith("(did you mean 'kd_shipping'?)")
        assert "did you mean" not in error(PluginLoader([tmp_path]), "kd_zzzz.f")

    def test_submodule_missing(self, tmp_path: Path) -> None:
        """A missing module inside a plugin package is named."""
        package = f"kd_pkg_{next(_names)}"
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        assert f"no module '{package}.gone'" in error(PluginLoader([tmp_path]), f"{package}.gone.f")

    def test_function_missing_lists_what_the_module_defines(self, tmp_path: Path) -> None:
        """A wrong name lists the module's public functions (not its imports or private names)."""
        name = plugin(tmp_path, """\
            import json
            from os.path import join

            LIMIT = 3

            def process_order(params): ...
            def refund(params): ...
            def _helper(): ...
            class Handler: ...
            """)
        message = error(PluginLoader([tmp_path]), f"{name}.proces_order")
        assert message.endswith("has no 'proces_order'; it defines: Handler, process_order, refund")

    def test_module_without_functions(self, tmp_path: Path) -> None:
        """A module with nothing callable says so."""
        name = plugin(tmp_path, "X = 1\n")
        assert error(PluginLoader([tmp_path]), f"{name}.f").endswith("it defines: no public functions")

    def test_module_that_raises_at_import(self, tmp_path: Path) -> None:
        """The import's own exception is reported with its file and line, not as a traceback."""
        name = plugin(tmp_path, "RATES = {}\nRATE = RATES['USD']\n")
        message = error(PluginLoader([tmp_path]), f"{name}.f")
        assert message == f"importing {name} failed: KeyError: 'USD' ({tmp_path / name}.py, line 2)"

    def test_module_with_a_syntax_error(self, tmp_path: Path) -> None:
        """A syntax error names the file and line."""
        name = plugin(tmp_path, "def f(params)\n    return 1\n")
        message = error(PluginLoader([tmp_path]), f"{name}.f")
        assert f"importing {name} failed: SyntaxError" in message
        assert f"{name}.py, line 1" in message

    def test_module_importing_a_missing_dependency(self, tmp_path: Path) -> None:
        """A handler's missing third-party import is an import failure, not "no module"."""
        name = plugin(tmp_path, "import kd_surely_not_installed\n")
        message = error(PluginLoader([tmp_path]), f"{name}.f")
        assert "ModuleNotFoundError: No module named 'kd_surely_not_installed'" in message

    def test_module_that_exits_at_import(self, tmp_path: Path) -> None:
        """sys.exit() at import is a PluginError, so `check` does not exit with the module's code."""
        name = plugin(tmp_path, "import sys\nsys.exit(0)\n")
        assert error(PluginLoader([tmp_path]), f"{name}.f") == f"importing {name} failed: it called sys.exit(0)"

    def test_module_getattr_that_raises(self, tmp_path: Path) -> None:
        """A module-level __getattr__ failing is reported, not raised."""
        name = plugin(tmp_path, "def __getattr__(name):\n    raise RuntimeError('lazy')\n")
        assert "RuntimeError: lazy" in error(PluginLoader([tmp_path]), f"{name}.f")

    def test_not_callable(self, tmp_path: Path) -> None:
        """A name that is not a function says what it is."""
        name = plugin(tmp_path, "LIMIT = 3\n")
        assert error(PluginLoader([tmp_path]), f"{name}.LIMIT") == f"{name}.LIMIT is a int, not a function"

    @pytest.mark.parametrize("dotted", ["os.system", "subprocess.run", "builtins.eval", "importlib.import_module"])
    def test_standard_library_is_never_a_handler(self, tmp_path: Path, dotted: str) -> None:
        """Standard library modules are refused even if named as packages."""
        loader = PluginLoader([tmp_path], packages=[dotted.split(".", maxsplit=1)[0]])
        assert "is a standard library module, not a handler module" in error(loader, dotted)

    def test_plugin_may_not_shadow_an_installed_module(self, tmp_path: Path) -> None:
        """handlers/yaml.py would make workers import something else than the daemon did: refused."""
        plugin(tmp_path, "def f(params): ...\n", "yaml")
        assert "would shadow the installed module" in error(PluginLoader([tmp_path]), "yaml.f")

    def test_plugin_may_not_shadow_an_unimported_installed_module(self, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
        """The same holds for an installed module that was not imported yet."""
        monkeypatch.delitem(sys.modules, "yaml", raising=False)
        plugin(tmp_path, "def f(params): ...\n", "yaml")
        assert "would shadow the installed module" in error(PluginLoader([tmp_path]), "yaml.f")


class TestAcceptsTwo:
    @pytest.mark.parametrize(("source", "expected"), [
        ("def f(params): ...", False),
        ("def f(params, meta): ...", True),
        ("def f(params, *, meta=None): ...", True),
        ("def f(params, other=None): ...", True),
        ("def f(*args): ...", True),
        ("def f(params, **kwargs): ...", False),
        ("f = print", True),
        ("f = len", False),
    ])
    def test_whether_a_function_takes_meta(self, source: str, expected: bool) -> None:
        """A second positional parameter, *args, or a parameter named meta means it takes meta."""
        namespace: dict[str, object] = {}
        exec(source, namespace)  # noqa: S102 - test-written function definitions
        function = namespace["f"]
        assert callable(function)
        assert accepts_two(function) is expected


class TestReload:
    def test_forget_and_restore(self, tmp_path: Path) -> None:
        """forget() drops the plugin modules so the next resolve imports fresh code; restore() undoes it."""
        name = plugin(tmp_path, "def f(params):\n    return 1\n")
        loader = PluginLoader([tmp_path])
        assert loader.resolve(f"{name}.f").function(None) == 1
        assert name in loader.loaded_modules()
        (tmp_path / f"{name}.py").write_text("def f(params):\n    return 2\n")
        dropped = loader.forget()
        assert name in dropped
        assert name not in sys.modules
        assert loader.resolve(f"{name}.f").function(None) == 2
        loader.restore(dropped)
        assert sys.modules[name].f(None) == 1

    def test_a_plugin_folder_holding_the_installation_forgets_only_plugin_code(self, tmp_path: Path) -> None:
        """`paths: [..]` at a project's root with .venv inside: rq, redis and karafkad are not plugin modules,
        so a reload or `karafkad worker` does not drop them (their classes would stop matching)."""
        import rq

        import karafkad

        name = plugin(tmp_path, "def f(params):\n    return 1\n")
        venv = Path(sys.prefix).resolve()
        loader = PluginLoader([tmp_path, venv.parent, Path(karafkad.__file__).resolve().parents[1]])
        loader.resolve(f"{name}.f")
        loaded = loader.loaded_modules()
        assert name in loaded
        assert "rq" not in loaded and "karafkad" not in loaded and "karafkad.routes.plugins" not in loaded
        assert sys.modules["rq"] is rq
