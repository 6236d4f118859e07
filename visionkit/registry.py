"""The one registry of methods, classical and deep, that the benchmark harness runs.

Every registered factory returns an object with the harness protocol:

* ``fit(images, labels) -> self``
* ``predict(images) -> labels`` (ndarray of shape (N,))
* optionally ``predict_proba(images)`` and ``transform(images)`` (features, shape (N, D))

where ``images`` is a uint8 array of shape (N, H, W, C) (C = 1 or 3) and ``labels`` an int array of
shape (N,). Each method converts and resizes inside, as it needs.

Examples
--------
>>> from visionkit import registry
>>> @registry.register("my-method", family="classical", description="...")
... def _make(**params):
...     return MyEstimator(**params)                                  # doctest: +SKIP
>>> registry.create("my-method", C=1.0)                              # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from ._validate import VisionkitError

__all__ = ["Registry", "MethodSpec", "register", "create", "list_methods", "get_spec", "FAMILIES", "FAMILY_LABELS"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Names mapped to specs: a name used twice is an error, an unknown name lists the valid ones.

    The one registry type of visionkit: the harness's methods (:data:`METHODS`) and the deep models
    (``visionkit.deep.models``) are instances.

    Parameters
    ----------
    kind : str
        What the entries are ("method", "model"), for the messages.

    Examples
    --------
    >>> r = Registry("colour")
    >>> _ = r.add("red", 1); _ = r.add("green", 2)
    >>> r.get("green"), r.names("r*")
    (2, ['red'])
    >>> r.get("gren")
    Traceback (most recent call last):
    ...
    visionkit._validate.VisionkitError: unknown colour 'gren'; expected one of: green, red. Did you mean green?
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, spec: T, *, owner: Any = None) -> T:
        """Register ``spec`` under ``name``; a name that is taken is an error."""
        if not isinstance(name, str) or not name:
            raise VisionkitError(f"{self.kind} name: expected a non-empty string, got {name!r}")
        if name in self._entries:
            raise VisionkitError(f"{self.kind} {name!r} is already registered (by {owner or self._entries[name]!r})")
        self._entries[name] = spec
        return spec

    def get(self, name: str) -> T:
        """The spec of ``name``; an unknown name is an error that lists the valid ones and the closest."""
        if not isinstance(name, str) or name not in self._entries:
            close = difflib.get_close_matches(str(name), list(self._entries), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise VisionkitError(f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}.{hint}")
        return self._entries[name]

    def names(self, pattern: str | None = None) -> list[str]:
        """Registered names, sorted; ``pattern`` filters them with shell wildcards (``"efficientnet_*"``)."""
        return sorted(n for n in self._entries if pattern is None or fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


FAMILIES = ("classical", "deep", "transfer")
#: How each family is named for people: features designed by hand, learned from the data at hand, or
#: learned on a large data set (ImageNet) and transferred.
FAMILY_LABELS = {"classical": "handcrafted", "deep": "learned from this data", "transfer": "transferred from ImageNet"}


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its name, family, factory and one-line description."""

    name: str
    family: str
    factory: Callable[..., Any]
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)


METHODS: Registry[MethodSpec] = Registry("method")
_LOADED = False


def register(
    name: str,
    factory: Callable[..., Any] | None = None,
    *,
    family: str,
    description: str = "",
    defaults: dict[str, Any] | None = None,
):
    """Register a method factory under ``name``; usable as a decorator.

    Raises
    ------
    VisionkitError
        If ``name`` is already registered or ``family`` is not one of :data:`FAMILIES`.
    """
    if family not in FAMILIES:
        raise VisionkitError(f"family: expected one of {FAMILIES}, got {family!r}")

    def _do(f: Callable[..., Any]) -> Callable[..., Any]:
        prev = METHODS._entries.get(name)
        METHODS.add(name, MethodSpec(name, family, f, description, dict(defaults or {})), owner=prev and prev.factory)
        return f

    return _do(factory) if factory is not None else _do


def _load_builtin() -> None:
    """Import the modules that register the built-in methods (once)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib

    for module in ("visionkit.classical.methods", "visionkit.deep.methods"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a part of the package not written yet
            if exc.name is None or not module.startswith(exc.name):
                raise


def list_methods(family: str | None = None, pattern: str | None = None) -> list[str]:
    """Names of the registered methods, sorted, optionally of one family and matching a wildcard ``pattern``."""
    _load_builtin()
    if family is not None and family not in FAMILIES:
        raise VisionkitError(f"family: expected one of {FAMILIES} or None, got {family!r}")
    return [n for n in METHODS.names(pattern) if family is None or METHODS.get(n).family == family]


def get_spec(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of ``name``; an unknown name is an error listing the valid ones."""
    _load_builtin()
    return METHODS.get(name)


def create(name: str, **params: Any) -> Any:
    """Build the method ``name`` with ``params`` overriding its defaults."""
    spec = get_spec(name)
    return spec.factory(**{**spec.defaults, **params})
