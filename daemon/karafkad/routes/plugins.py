"""Find handler and hook functions by dotted path, only where the routes file allows.

A route names `orders.process_order`; the module `orders` must live in one of
the plugin folders (or be a top-level package listed in `plugins.packages`).
Nothing else is importable through a route, a plugin module may not shadow the
standard library or an installed package, and the name RQ stores in the job
(`orders.process_order`) is the one a worker with the plugin folder on its
path resolves to the same file.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import inspect
import keyword
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from karafkad.errors import PluginError
from karafkad.text import close_match

_IMPORT_LOCK = threading.Lock()


@dataclass(frozen=True)
class Resolved:
    """A function found from a dotted path."""

    path: str
    module: str
    name: str
    function: Callable[..., Any]
    file: str | None

    @property
    def accepts_meta(self) -> bool:
        """True when the function takes a second argument (the message metadata)."""
        return accepts_two(self.function)


def accepts_two(function: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return False
    positional = 0
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
        if parameter.name == "meta":
            return True
    return positional >= 2


class PluginLoader:
    """Resolves dotted paths against the plugin folders and allowed packages."""

    def __init__(self, paths: Sequence[Path], packages: Sequence[str] = ()) -> None:
        self.paths = tuple(Path(p).resolve() for p in paths)
        self.packages = frozenset(packages)

    def activate(self) -> None:
        """Put the plugin folders first on sys.path (once each), as `rq worker` will have them."""
        with _IMPORT_LOCK:
            for folder in reversed(self.paths):
                if str(folder) not in sys.path:
                    sys.path.insert(0, str(folder))
            importlib.invalidate_caches()

    def resolve(self, dotted: str) -> Resolved:
        """The function named by `module.function`; PluginError saying what is wrong otherwise."""
        module_name, _, name = dotted.rpartition(".")
        parts = dotted.split(".")
        if not module_name or not name or not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
            # Also what keeps `..os.system`, `handlers/../x.f` and `x\n.f` out of importlib.
            raise PluginError(f"{dotted!r} is not a dotted path such as orders.process_order")
        if name.startswith("__") and name.endswith("__"):
            raise PluginError(f"{dotted}: {name} is a Python special name, not a handler function")
        top = module_name.split(".")[0]
        self._check_origin(top)
        self._check_files(module_name)
        self.activate()
        with _IMPORT_LOCK:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                    raise PluginError(f"no module {module_name!r} in {self._where()}") from None
                raise PluginError(f"importing {module_name} failed: {_describe(exc)}") from None
            except Exception as exc:  # the module's own code failed: say how, without a traceback
                raise PluginError(f"importing {module_name} failed: {_describe(exc)}") from None
            except SystemExit as exc:  # `sys.exit()` at import must not end `karafkad check` with its code
                raise PluginError(f"importing {module_name} failed: it called sys.exit({exc.code!r})") from None
        try:
            function = getattr(module, name, None)
        except Exception as exc:  # a module-level __getattr__ that raises
            raise PluginError(f"reading {dotted} failed: {_describe(exc)}") from None
        if function is None:
            defined = _public_callables(module)
            listing = ", ".join(defined) if defined else "no public functions"
            raise PluginError(f"module {module_name} ({_file(module)}) has no {name!r}; it defines: {listing}")
        if not callable(function):
            raise PluginError(f"{dotted} is a {type(function).__name__}, not a function")
        self._check_defined_here(dotted, module_name, function)
        return Resolved(dotted, module_name, name, function, _file(module))

    def _check_files(self, module_name: str) -> None:
        """Refuse a module of the plugin folders that is a symlink to a file (or folder) outside them.

        The plugin folders are what the operator declared trusted; a link out of
        them would make a file elsewhere a handler module without saying so (and
        its real path would not count as a plugin module on reload).
        """
        parts = module_name.split(".")
        for folder in self.paths:
            for depth in range(1, len(parts) + 1):
                base = folder.joinpath(*parts[:depth])
                for candidate in (base.with_name(base.name + ".py"), base):
                    if (candidate.is_symlink() or candidate.exists()) and not self._inside(candidate):
                        raise PluginError(f"{candidate} is a symlink to {candidate.resolve()}, outside the plugin "
                                          f"folders; add that folder to plugins.paths instead of linking into it")

    def _inside(self, path: Path) -> bool:
        """Whether `path` is plugin code: inside a plugin folder, and not in an installation that lies inside it.

        A plugin folder may hold the virtualenv (`paths: [..]` at a project's
        root, or /opt/karafkad with its venv below): rq, redis and karafkad
        itself are not plugin modules to forget and import afresh.
        """
        return any(_is_within(path, folder) and not any(_is_within(path, root) and _is_within(root, folder)
                                                        for root in _INSTALLED)
                   for folder in self.paths)

    def _check_defined_here(self, dotted: str, module_name: str, function: Any) -> None:
        """The function must come from the plugin folders or an allowed package, not be imported into them.

        `from subprocess import run` in handlers/orders.py must not make
        `orders.run` a handler: the route would run subprocess.run.
        """
        origin = getattr(function, "__module__", None)
        if not isinstance(origin, str):
            origin = type(function).__module__
        if origin == module_name or origin.split(".")[0] in self.packages:
            return
        source_file = getattr(sys.modules.get(origin), "__file__", None)
        if source_file and self._inside(Path(source_file)) and origin.split(".")[0] not in sys.stdlib_module_names:
            return
        raise PluginError(f"{dotted} is {origin}.{getattr(function, '__qualname__', type(function).__name__)}, "
                          f"imported into {module_name}; a handler must be defined in the plugin folders (or in "
                          "plugins.packages)")

    def _check_origin(self, top: str) -> None:
        if top in sys.stdlib_module_names:
            raise PluginError(f"{top!r} is a standard library module, not a handler module")
        in_folder = self._find_in_folders(top)
        if in_folder is None:
            if top in self.packages:
                return
            hint = close_match(top, self._module_names())
            tip = f" (did you mean {hint!r}?)" if hint else ""
            raise PluginError(f"module {top!r} is not in {self._where()}{tip}")
        loaded = sys.modules.get(top)
        if loaded is not None:
            origin = getattr(loaded, "__file__", None)
            if origin and not self._inside(Path(origin)):
                raise PluginError(f"plugin module {top!r} ({in_folder}) would shadow the installed module "
                                  f"{origin}; rename it")
        else:
            elsewhere = importlib.machinery.PathFinder.find_spec(
                top, [p for p in sys.path if Path(p or ".").resolve() not in self.paths])
            if elsewhere is not None and elsewhere.origin not in (None, "namespace"):
                raise PluginError(f"plugin module {top!r} ({in_folder}) would shadow the installed module "
                                  f"{elsewhere.origin}; rename it")

    def _find_in_folders(self, top: str) -> Path | None:
        for folder in self.paths:
            for candidate in (folder / f"{top}.py", folder / top / "__init__.py", folder / top):
                if candidate.exists():
                    return candidate
        return None

    def _module_names(self) -> set[str]:
        """The top-level modules a route may name: those of the plugin folders, and plugins.packages."""
        names = set(self.packages)
        for folder in self.paths:
            try:
                entries = list(folder.iterdir())
            except OSError:  # a missing folder is reported on its own
                continue
            names.update(e.stem if e.suffix == ".py" else e.name for e in entries
                         if (e.suffix == ".py" or e.is_dir()) and e.stem.isidentifier()
                         and not e.name.startswith("__"))  # __pycache__, __init__.py
        return names

    def _where(self) -> str:
        folders = ", ".join(str(p) for p in self.paths) or "(none)"
        packages = ", ".join(sorted(self.packages))
        return f"the plugin folders ({folders})" + (f" or plugins.packages ({packages})" if packages else "")

    def loaded_modules(self) -> list[str]:
        """Names of the modules imported from the plugin folders so far."""
        names = []
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None)
            if origin and self._inside(Path(origin)):
                names.append(name)
        return names

    def forget(self) -> dict[str, ModuleType]:
        """Drop the plugin modules from sys.modules so the next resolve imports fresh code.

        Returns what was dropped, so a failed reload can put it back.
        """
        with _IMPORT_LOCK:
            dropped = {name: sys.modules.pop(name) for name in self.loaded_modules() if name in sys.modules}
            importlib.invalidate_caches()
            return dropped

    @staticmethod
    def restore(modules: dict[str, ModuleType]) -> None:
        with _IMPORT_LOCK:
            sys.modules.update(modules)


_INSTALLED = tuple({Path(p).resolve() for p in (sys.prefix, sys.exec_prefix, sys.base_prefix,
                                                   Path(__file__).resolve().parents[1])})
"""Where installed code lives: the interpreter's and the virtualenv's prefixes, and karafkad's own package."""


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
    except ValueError:
        return False
    return True


def _file(module: ModuleType) -> str:
    return str(getattr(module, "__file__", None) or module.__name__)


def _public_callables(module: ModuleType) -> list[str]:
    return sorted(
        name for name, value in vars(module).items()
        if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == module.__name__
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    tb = exc.__traceback__
    where = ""
    while tb is not None:
        if "importlib" not in tb.tb_frame.f_code.co_filename:
            where = f" ({tb.tb_frame.f_code.co_filename}, line {tb.tb_lineno})"
        tb = tb.tb_next
    return f"{type(exc).__name__}: {exc}{where}"
