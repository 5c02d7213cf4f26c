"""Nothing runs that the operator did not write: handler paths resolve only from the plugin folders and the
packages the routes file names. Each way out is tried here, through a routes file as `karafkad check` reads it.

Symlinks: a module (or package folder) in a plugin folder that is a symlink to somewhere outside every plugin
folder is refused; a link to another file inside the plugin folders, and a plugin folder that is itself a
symlink (resolved once, when the routes file is loaded), are fine. See docs/security.md.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tables import forgetting_plugin_imports

from karafkad.errors import ConfigError, PluginError
from karafkad.routes.plugins import PluginLoader
from karafkad.routes.table import RouteTable, load_routes

_names = itertools.count()


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    """Forget what a test imported from its temporary folders (and the sys.path entries it added)."""
    with forgetting_plugin_imports(also=lambda origin: "/pytest-" in origin):
        yield


def routes(tmp_path: Path, handler: str, packages: list[str] | None = None, *,
           plugins: Path | None = None, hook: str | None = None) -> Path:
    """A routes file with one route to `handler` (and `hook` as its before_enqueue), plugin folder `plugins/`."""
    folder = plugins or tmp_path / "plugins"
    folder.mkdir(exist_ok=True)
    route: dict[str, object] = {"topic": "t", "handler": handler, "on_error": "skip"}
    if hook:
        route["before_enqueue"] = hook
    document = {"plugins": {"paths": [str(folder)], "packages": packages or []},
                "groups": {"g": {"routes": [route]}}}
    path = tmp_path / "routes.yaml"
    path.write_text(json.dumps(document))
    return path


def refused(path: Path) -> str:
    """The one problem `karafkad check` reports for the routes file."""
    with pytest.raises(ConfigError) as info:
        load_routes(path, environ={})
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0].message


def accepted(path: Path) -> RouteTable:
    return load_routes(path, environ={})


def plugin(folder: Path, source: str, name: str | None = None) -> str:
    name = name or f"kd_sec_{next(_names)}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return name


class TestStandardLibrary:
    @pytest.mark.parametrize("handler", ["os.system", "subprocess.run", "builtins.eval", "shutil.rmtree",
                                         "pickle.loads", "posix.system", "importlib.import_module"])
    def test_refused_even_when_listed_as_a_package(self, tmp_path: Path, handler: str) -> None:
        """A standard library function is never a handler, even with its module in plugins.packages."""
        top = handler.split(".", maxsplit=1)[0]
        assert "is a standard library module, not a handler module" in refused(routes(tmp_path, handler, [top]))

    def test_refused_as_a_before_enqueue_hook_too(self, tmp_path: Path) -> None:
        """Hooks resolve through the same checks as handlers."""
        name = plugin(tmp_path / "plugins", "def handle(params): ...\n")
        message = refused(routes(tmp_path, f"{name}.handle", hook="os.system"))
        assert "'os' is a standard library module" in message

    def test_a_plugin_module_named_like_the_standard_library_is_refused(self, tmp_path: Path) -> None:
        """plugins/json.py does not make `json.loads` (or the plugin's own function) a handler."""
        plugin(tmp_path / "plugins", "def loads(params): ...\n", "json")
        assert "is a standard library module" in refused(routes(tmp_path, "json.loads"))


class TestInstalledPackages:
    def test_an_installed_package_not_listed_is_refused(self, tmp_path: Path) -> None:
        """An installed package (here PyYAML, and karafkad itself) is not importable by a route unless listed."""
        assert "module 'yaml' is not in the plugin folders" in refused(routes(tmp_path, "yaml.safe_load"))
        assert "module 'karafkad' is not in the plugin folders" in refused(routes(tmp_path, "karafkad.cli.main"))

    def test_a_listed_package_is_allowed(self, tmp_path: Path) -> None:
        """Listing the package in plugins.packages is how a route may name it."""
        table = accepted(routes(tmp_path, "yaml.safe_load", ["yaml"]))
        assert table.routes[0].handler.function("a: 1") == {"a": 1}

    def test_a_plugin_module_shadowing_an_installed_package_is_refused(self, tmp_path: Path) -> None:
        """plugins/yaml.py would be the daemon's yaml but not a worker's: refused, with both files named."""
        plugin(tmp_path / "plugins", "def safe_load(params): ...\n", "yaml")
        message = refused(routes(tmp_path, "yaml.safe_load"))
        assert "would shadow the installed module" in message
        assert str(tmp_path / "plugins" / "yaml.py") in message

    def test_a_plugin_package_shadowing_an_installed_package_is_refused(self, tmp_path: Path) -> None:
        """The same for a package folder (plugins/redis/__init__.py)."""
        (tmp_path / "plugins" / "redis").mkdir(parents=True)
        (tmp_path / "plugins" / "redis" / "__init__.py").write_text("def handle(params): ...\n")
        assert "would shadow the installed module" in refused(routes(tmp_path, "redis.handle"))


class TestReexports:
    def test_a_standard_library_function_imported_into_a_plugin_is_refused(self, tmp_path: Path) -> None:
        """`from subprocess import run` in a plugin does not make `plugin.run` a handler."""
        name = plugin(tmp_path / "plugins", "from subprocess import run\nfrom os import system\n")
        assert f"{name}.run is subprocess.run, imported into {name}" in refused(routes(tmp_path, f"{name}.run"))
        assert "is posix.system" in refused(routes(tmp_path, f"{name}.system"))

    def test_a_builtin_imported_into_a_plugin_is_refused(self, tmp_path: Path) -> None:
        """`run = eval` in a plugin: refused (builtins are no handlers)."""
        name = plugin(tmp_path / "plugins", "run = eval\n")
        assert "is builtins.eval, imported into" in refused(routes(tmp_path, f"{name}.run"))

    def test_an_unlisted_package_function_imported_into_a_plugin_is_refused(self, tmp_path: Path) -> None:
        """`from yaml import safe_load` in a plugin needs yaml in plugins.packages."""
        name = plugin(tmp_path / "plugins", "from yaml import safe_load\n")
        assert "is yaml.safe_load, imported into" in refused(routes(tmp_path, f"{name}.safe_load"))
        accepted(routes(tmp_path, f"{name}.safe_load", ["yaml"]))

    def test_functions_from_other_plugin_modules_are_fine(self, tmp_path: Path) -> None:
        """Re-exporting within the plugin folders (a package's __init__ importing its submodule) is allowed."""
        package = f"kd_sec_pkg_{next(_names)}"
        (tmp_path / "plugins" / package).mkdir(parents=True)
        (tmp_path / "plugins" / package / "jobs.py").write_text("def run(params):\n    return 'ran'\n")
        (tmp_path / "plugins" / package / "__init__.py").write_text("from .jobs import run\n")
        assert accepted(routes(tmp_path, f"{package}.run")).routes[0].handler.function(None) == "ran"

    @pytest.mark.parametrize("attribute", ["__class__", "__loader__", "__spec__", "__getattr__"])
    def test_special_names_are_refused(self, tmp_path: Path, attribute: str) -> None:
        """`plugin.__class__` (the module type, callable) and other dunder names are never handlers."""
        name = plugin(tmp_path / "plugins", "def handle(params): ...\n")
        loader = PluginLoader([tmp_path / "plugins"])
        with pytest.raises(PluginError, match="special name"):
            loader.resolve(f"{name}.{attribute}")


class TestPathTricks:
    @pytest.mark.parametrize("dotted", ["..os.system", ".plugin.f", "plugin..f", "../outside.f", "sub/../x.f",
                                        "x.f\n", "x .f", "x.f()", "x.lambda", "__import__('os').system",
                                        "plugin.f;import os"])
    def test_anything_but_a_dotted_path_of_names_is_refused(self, tmp_path: Path, dotted: str) -> None:
        """Relative imports, path separators, calls and keywords never reach importlib."""
        (tmp_path / "outside.py").write_text("def f(params): ...\n")
        with pytest.raises(PluginError, match="is not a dotted path"):
            PluginLoader([tmp_path / "plugins"]).resolve(dotted)

    def test_the_routes_file_refuses_a_relative_handler_path(self, tmp_path: Path) -> None:
        """The routes-file schema refuses `..os.system` before the loader is even asked."""
        assert "is not valid here" in refused(routes(tmp_path, "..os.system"))


class TestSymlinks:
    def test_a_symlinked_module_pointing_outside_is_refused(self, tmp_path: Path) -> None:
        """plugins/evil.py -> /elsewhere/evil.py is refused (before anything of it is imported)."""
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        name = f"kd_sec_link_{next(_names)}"
        marker = tmp_path / "imported"
        (outside / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\ndef f(params): ...\n")
        (tmp_path / "plugins").mkdir()
        (tmp_path / "plugins" / f"{name}.py").symlink_to(outside / f"{name}.py")
        message = refused(routes(tmp_path, f"{name}.f"))
        assert "is a symlink to" in message and "outside the plugin folders" in message
        assert not marker.exists(), "the linked module was imported"

    def test_a_symlinked_package_folder_pointing_outside_is_refused(self, tmp_path: Path) -> None:
        """plugins/pkg -> /elsewhere/pkg (a folder) is refused the same way."""
        name = f"kd_sec_linkpkg_{next(_names)}"
        (tmp_path / "elsewhere" / name).mkdir(parents=True)
        (tmp_path / "elsewhere" / name / "__init__.py").write_text("def f(params): ...\n")
        (tmp_path / "plugins").mkdir()
        (tmp_path / "plugins" / name).symlink_to(tmp_path / "elsewhere" / name)
        assert "outside the plugin folders" in refused(routes(tmp_path, f"{name}.f"))

    def test_a_symlinked_submodule_pointing_outside_is_refused(self, tmp_path: Path) -> None:
        """A link deeper inside a plugin package is found too."""
        name = f"kd_sec_linksub_{next(_names)}"
        (tmp_path / "plugins" / name).mkdir(parents=True)
        (tmp_path / "plugins" / name / "__init__.py").write_text("")
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "elsewhere" / "jobs.py").write_text("def f(params): ...\n")
        (tmp_path / "plugins" / name / "jobs.py").symlink_to(tmp_path / "elsewhere" / "jobs.py")
        assert "outside the plugin folders" in refused(routes(tmp_path, f"{name}.jobs.f"))

    def test_a_symlink_to_the_standard_library_is_refused(self, tmp_path: Path) -> None:
        """plugins/kd_os.py -> the standard library's os.py does not make os.system a handler."""
        import os as stdlib_os

        name = f"kd_sec_os_{next(_names)}"
        (tmp_path / "plugins").mkdir()
        (tmp_path / "plugins" / f"{name}.py").symlink_to(stdlib_os.__file__)
        assert "outside the plugin folders" in refused(routes(tmp_path, f"{name}.system"))

    def test_a_symlink_within_the_plugin_folders_is_fine(self, tmp_path: Path) -> None:
        """plugins/current.py -> plugins/releases/v2.py stays inside: allowed, and resolves again after a
        reload (the module counts as a plugin module)."""
        name = f"kd_sec_inside_{next(_names)}"
        (tmp_path / "plugins" / "releases").mkdir(parents=True)
        (tmp_path / "plugins" / "releases" / "v2.py").write_text("def f(params):\n    return 2\n")
        (tmp_path / "plugins" / f"{name}.py").symlink_to(tmp_path / "plugins" / "releases" / "v2.py")
        table = accepted(routes(tmp_path, f"{name}.f"))
        assert table.routes[0].handler.function(None) == 2
        table.loader.forget()
        assert table.loader.resolve(f"{name}.f").function(None) == 2

    def test_a_plugin_folder_that_is_itself_a_symlink_is_fine(self, tmp_path: Path) -> None:
        """plugins.paths may name a link (a deploy's `current` folder): it is resolved once, at load."""
        name = plugin(tmp_path / "release-1", "def f(params):\n    return 1\n")
        (tmp_path / "current").symlink_to(tmp_path / "release-1")
        table = accepted(routes(tmp_path, f"{name}.f", plugins=tmp_path / "current"))
        assert table.routes[0].handler.function(None) == 1
