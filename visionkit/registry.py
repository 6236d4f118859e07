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
from dataclasses import dataclass, field
from typing import Any, Callable

from ._validate import VisionkitError

__all__ = ["MethodSpec", "register", "create", "list_methods", "get_spec", "FAMILIES", "FAMILY_LABELS"]

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


_REGISTRY: dict[str, MethodSpec] = {}
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
    if not isinstance(name, str) or not name:
        raise VisionkitError(f"method name: expected a non-empty string, got {name!r}")
    if family not in FAMILIES:
        raise VisionkitError(f"family: expected one of {FAMILIES}, got {family!r}")

    def _do(f: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise VisionkitError(f"method {name!r} is already registered (by {_REGISTRY[name].factory!r})")
        _REGISTRY[name] = MethodSpec(name, family, f, description, dict(defaults or {}))
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


def list_methods(family: str | None = None) -> list[str]:
    """Names of the registered methods, sorted, optionally of one family."""
    _load_builtin()
    if family is not None and family not in FAMILIES:
        raise VisionkitError(f"family: expected one of {FAMILIES} or None, got {family!r}")
    return sorted(n for n, s in _REGISTRY.items() if family is None or s.family == family)


def get_spec(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of ``name``; an unknown name is an error listing the valid ones."""
    _load_builtin()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise VisionkitError(f"unknown method {name!r}; expected one of: {', '.join(sorted(_REGISTRY))}.{hint}")
    return _REGISTRY[name]


def create(name: str, **params: Any) -> Any:
    """Build the method ``name`` with ``params`` overriding its defaults."""
    spec = get_spec(name)
    return spec.factory(**{**spec.defaults, **params})
