"""The one Registry type behind the methods and the models; the parameter checks, resolved recipes and
model names (every built-in method)."""

import json

import pytest

from visionkit import VisionkitError, registry
from visionkit.deep import MODELS, list_models
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



def test_valid_params_from_signature_and_from_get_params():
    # a factory with named parameters: its signature
    assert registry.valid_params("pixels-svm") == ["C", "channels", "max_iter", "size"]
    # a factory taking **params (deep): the estimator's get_params
    lenet = registry.valid_params("lenet")
    assert {"epochs", "lr", "device", "model", "random_state"} <= set(lenet)


def test_check_params_known_answers_and_errors():
    ok = registry.check_params({"lenet": {"epochs": 2}, "kmeans-svm": {"mirror": True}})
    assert ok == {"lenet": {"epochs": 2}, "kmeans-svm": {"mirror": True}}
    assert registry.check_params(None) == {}
    with pytest.raises(VisionkitError, match=r"unknown parameter 'epoch'.*epochs.*Did you mean epochs"):
        registry.check_params({"lenet": {"epoch": 2}})
    with pytest.raises(VisionkitError, match=r"unknown parameter 'mirrors'.*mirror"):
        registry.check_params({"kmeans-svm": {"mirrors": True}})
    with pytest.raises(VisionkitError, match=r"unknown method 'lent'.*lenet"):
        registry.check_params({"lent": {"epochs": 2}})
    with pytest.raises(VisionkitError, match=r"expected a dict \{method: \{param: value\}\}"):
        registry.check_params({"lenet": 3})
    with pytest.raises(VisionkitError, match=r"expected a dict \{method"):
        registry.check_params(["lenet"])


@pytest.mark.parametrize("name", registry.list_methods())
def test_every_method_resolves_a_json_recipe(name):
    method = registry.create(name)
    params = registry.resolved_params(method)
    assert json.loads(json.dumps(params)) == params
    if hasattr(method, "get_params"):
        assert params  # every default is recorded, not {}


def test_resolved_params_record_defaults_and_overrides():
    hog = registry.resolved_params(registry.create("hog-svm"))
    assert hog["svm__C"] == 1.0 and hog["hog__pixels_per_cell"] == [4, 4] and hog["hog__size"] == [32, 32]
    assert registry.resolved_params(registry.create("hog-svm", C=0.5))["svm__C"] == 0.5
    assert registry.resolved_params(object()) == {}


def test_model_of_each_network():
    assert registry.model_of("resnet") == "resnet20 (photos: resnet18)"
    assert registry.model_of("lenet") == "lenet5"
    assert registry.model_of("efficientnet") == "efficientnet_b0"
    assert registry.model_of("cnn-features-svm") == "resnet20 (photos: resnet18)"
    assert registry.model_of("pretrained-features-svm") == "efficientnet_lite0"
    assert registry.model_of("hog-svm") is None


def test_create_checks_parameter_names():
    with pytest.raises(VisionkitError, match=r"method 'bovw-svm': unknown parameter 'size'; expected some of: .*max_side"):
        registry.create("bovw-svm", size=(32, 32))
