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

__all__ = ["Registry", "MethodSpec", "register", "create", "list_methods", "get_spec", "valid_params", "check_params",
           "resolved_params", "model_of", "FAMILIES", "FAMILY_LABELS"]

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
    """Build the method ``name`` with ``params`` overriding its defaults.

    An unknown parameter is a :class:`~visionkit.VisionkitError` listing the valid ones (not the
    factory's ``TypeError``)."""
    spec = get_spec(name)
    if params:
        check_params({name: params})
    return spec.factory(**{**spec.defaults, **params})


def valid_params(name: str) -> list[str] | None:
    """The parameter names that method ``name`` takes, sorted; ``None`` when they cannot be told.

    They are the named parameters of the factory's signature; a factory that takes ``**params`` (the
    deep methods pass them to :class:`~visionkit.deep.DeepClassifier`) is built once with its defaults,
    which only stores them, and the estimator's ``get_params(deep=False)`` adds its names. A factory
    with ``**params`` whose product has no ``get_params`` accepts anything: ``None``.
    """
    import inspect

    spec = get_spec(name)
    try:
        sig = inspect.signature(spec.factory)
    except (TypeError, ValueError):
        return None
    named = {p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
        return sorted(named)
    est = spec.factory(**spec.defaults)
    if not hasattr(est, "get_params"):
        return None
    return sorted(named | set(est.get_params(deep=False)))


def check_params(method_params: Any) -> dict[str, dict[str, Any]]:
    """Check ``{method: {param: value}}`` before anything runs; returns it as plain dicts.

    Raises
    ------
    VisionkitError
        If it is not a dict of dicts, names an unknown method (the valid ones are listed) or a
        parameter the method does not take (its valid parameters are listed, with close matches).
    """
    if method_params is None:
        return {}
    if not isinstance(method_params, dict) or not all(isinstance(v, dict) and all(isinstance(k, str) for k in v)
                                                      for v in method_params.values()):
        raise VisionkitError(f'method params: expected a dict {{method: {{param: value}}}}, e.g. {{"resnet": {{"epochs": 30}}}}, '
                             f"got {method_params!r:.200}")
    for name, params in method_params.items():
        get_spec(name)
        valid = valid_params(name)
        if valid is None:
            continue
        unknown = [k for k in params if k not in valid]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), valid, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise VisionkitError(f"method {name!r}: unknown parameter{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(map(repr, unknown))}; expected some of: {', '.join(valid)}.{hint}")
    return {k: dict(v) for k, v in method_params.items()}


def _jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: tuples become lists, estimators their class name and parameters."""
    import numpy as np

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "get_params"):
        return {"class": type(value).__name__, "params": _jsonable(value.get_params(deep=False))}
    return repr(value)


def resolved_params(method: Any) -> dict[str, Any]:
    """Every parameter a built method uses, defaults included, as JSON-ready values.

    A scikit-learn estimator or pipeline gives ``get_params(deep=True)`` without the step objects
    themselves (their parameters appear as ``step__param``); a fitted network adds the training recipe
    it resolved (``train_config_``: the model's registered recipe, not the ``None`` placeholders of its
    parameters) under ``"train_config"``; anything else gives ``{}``.
    """
    if not hasattr(method, "get_params"):
        return {}
    params = method.get_params(deep=True)
    out = {}
    for k, v in sorted(params.items()):
        if hasattr(v, "get_params") or k == "steps":
            continue  # the step or wrapped estimator itself: its parameters are listed under k__...
        out[k] = _jsonable(v)
    for owner in (method, getattr(method, "cnn_", None)):  # CNNFeaturesSVM trains a DeepClassifier inside
        config = getattr(owner, "train_config_", None)
        if isinstance(config, dict):
            out["train_config"] = _jsonable(config)
            # what was built and how long it trained (the photo recipe may have replaced the defaults)
            for attr in ("model_name_", "img_size_", "train_steps_"):
                if getattr(owner, attr, None) is not None:
                    out[attr.rstrip("_")] = _jsonable(getattr(owner, attr))
            break
    return out


def model_of(name: str) -> str | None:
    """The network a method builds (``"resnet"`` -> ``"resnet20"``), or ``None`` for methods without one.

    A method with a different network for photos says so: ``"resnet20 (photos: resnet18)"``."""
    spec = get_spec(name)
    if spec.family == "classical":
        return None
    try:
        est = spec.factory(**spec.defaults)
    except Exception:  # a factory that needs arguments: nothing to tell
        return None
    if hasattr(est, "network"):  # a method that trains a network inside (CNNFeaturesSVM) says which
        est = est.network()
    if not hasattr(est, "get_params"):
        return None
    params = est.get_params(deep=False)
    for key in ("model", "backbone"):
        if isinstance(params.get(key), str):
            photo_model = (params.get("photos") or {}).get("model")
            return params[key] + (f" (photos: {photo_model})" if photo_model and photo_model != params[key] else "")
    return None
