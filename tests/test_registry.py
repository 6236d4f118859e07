"""The one Registry type behind the methods and the models."""

import pytest

from visionkit import VisionkitError, registry
from visionkit.deep.models import MODELS, list_models
from visionkit.registry import Registry


def test_registry_add_get_list_and_errors():
    r = Registry("colour")
    r.add("red", 1)
    r.add("green", 2)
    assert r.get("green") == 2 and "red" in r and len(r) == 2 and list(r) == ["green", "red"]
    assert r.names("g*") == ["green"] and r.names("x*") == []
    with pytest.raises(VisionkitError, match="colour 'red' is already registered"):
        r.add("red", 3)
    assert r.get("red") == 1  # the refused add changed nothing
    with pytest.raises(VisionkitError, match="unknown colour 'gren'; expected one of: green, red. Did you mean green"):
        r.get("gren")
    for bad in ("", None, 3):
        with pytest.raises(VisionkitError, match="non-empty string"):
            r.add(bad, 0)
    with pytest.raises(VisionkitError, match="unknown colour"):
        r.get(None)


def test_methods_and_models_share_it():
    assert isinstance(registry.METHODS, Registry) and isinstance(MODELS, Registry)
    assert list_models("efficientnet_lite*") == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    assert registry.list_methods(pattern="pretrained-*") == ["pretrained-features-svm", "pretrained-finetune"]
    assert registry.list_methods("transfer") == ["pretrained-features-svm", "pretrained-finetune"]
    with pytest.raises(VisionkitError, match="Did you mean hog-svm"):
        registry.get_spec("hogsvm")
    with pytest.raises(VisionkitError, match="method 'hog-svm' is already registered"):
        registry.register("hog-svm", lambda **p: None, family="classical")
    with pytest.raises(VisionkitError, match="family"):
        registry.register("new-thing", lambda **p: None, family="magic")
