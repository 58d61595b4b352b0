"""The telnyx and openai SDKs without their whole `types` packages at start-up.

`import telnyx` runs `from . import types`, whose __init__ imports every one of ~1,400 pydantic
models of the Telnyx API: ~1.5 s of CPU, and `import openai` does the same for ~0.7 s, in every
process, while CloudGreet uses a handful of them. The SDKs' resources import the models they use
from their own modules (`telnyx.types.calls.action_speak_params`), so the package __init__ is
needed only by code that asks the package itself for a model (`telnyx.types.SomeModel`).

`defer_sdk_type_imports()` makes those packages load as an empty package with their real
`__path__` (PEP 562 module __getattr__): a submodule imports as ever; a model the __init__
re-exports (`from ...types import StreamCodec`, as the SDKs' resources do) imports the one module
its `from .stream_codec import StreamCodec as StreamCodec` line names; any other name runs the
real __init__ first, so nothing breaks, it only costs what it did before. Models of the modules
the __init__ imports itself (`from . import event_node`, to rebuild cyclic models) come only
from the real __init__. Call it before anything imports telnyx or openai (the command
line does); the stdlib's importlib.util.LazyLoader cannot do this, as it loads a package as soon as
a submodule is imported from it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
from collections.abc import Sequence
from types import ModuleType

# These packages and every package inside them (openai.types.responses is another such list;
# telnyx.resources imports every resource, and with them their models).
DEFERRED_PACKAGES = ("telnyx.types", "telnyx.resources", "openai.types")


_REEXPORT = re.compile(r"^from \.([\w.]+) import (?:\(([^)]*)\)|([^\n(]+))", re.MULTILINE)
_OWN_IMPORT = re.compile(r"^from \. import ([\w, ]+)", re.MULTILINE)


def reexports(init_source: str) -> dict[str, str]:
    """Name -> submodule of every plain `from .module import Name as Name` of a package __init__."""
    own = {m.strip() for line in _OWN_IMPORT.findall(init_source) for m in line.split(",")}
    index = {}
    for module, listed, single in _REEXPORT.findall(init_source):
        if module.split(".")[0] in own:
            continue
        for item in (listed or single).split(","):
            if (words := item.split("#")[0].split()) and len(words) in (1, 3):
                index[words[-1]] = module
    return index


class _DeferredInit(importlib.abc.Loader):
    def __init__(self, real: importlib.machinery.ModuleSpec) -> None:
        self._real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module, with __path__ from the spec

    def exec_module(self, module: ModuleType) -> None:
        real, loaded = self._real, False
        assert real.origin is not None
        with open(real.origin, encoding="utf-8") as init:
            index = reexports(init.read())

        def __getattr__(name: str) -> object:
            nonlocal loaded
            if name.startswith("__"):
                raise AttributeError(name)  # dunders probed by inspect, pickle and the like are not models
            if not loaded and name in index:
                return getattr(importlib.import_module(f"{module.__name__}.{index[name]}"), name)
            if not loaded and importlib.util.find_spec(f"{module.__name__}.{name}") is not None:
                return importlib.import_module(f"{module.__name__}.{name}")
            if not loaded:
                loaded = True
                del module.__dict__["__getattr__"]
                assert real.loader is not None
                real.loader.exec_module(module)  # the real __init__, in this module's namespace
            return getattr(module, name)

        module.__getattr__ = __getattr__  # type: ignore[method-assign]


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not any(fullname == p or fullname.startswith(f"{p}.") for p in DEFERRED_PACKAGES):
            return None
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        if real is None or real.loader is None or real.submodule_search_locations is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname,
            real.origin,
            loader=_DeferredInit(real),
            submodule_search_locations=list(real.submodule_search_locations),
        )


def defer_sdk_type_imports() -> None:
    """Installs the deferral for the packages not yet imported; idempotent."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
