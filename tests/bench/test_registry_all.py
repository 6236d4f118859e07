"""Every registered method, classical and deep, on tiny data through the harness protocol (registry-wide: slow)."""

import numpy as np
import pytest

from visionkit import registry
from visionkit.bench.runner import _accepts_seed

pytestmark = pytest.mark.slow

METHODS = registry.list_methods()


# vocabularies small enough for 18 tiny images (a larger one is a documented error)
TINY = {"bovw-svm": {"n_words": 16}, "harris-bovw-svm": {"n_words": 8}, "kmeans-svm": {"n_words": 32},
        "fisher-svm": {"n_modes": 8, "pca_dim": 16}, "vlad-svm": {"n_modes": 8, "pca_dim": 16},
        "kmeans-scattering-svm": {"n_words": 16, "n_components": 8},
        "scattering-rbf": {"n_axes": 8, "n_landmarks": 16},
        # pretrained networks at 64 px: the protocol, not the accuracy at the weights' own size
        "pretrained-features-svm": {"img_size": 64, "cache": False},
        "pretrained-finetune": {"img_size": 64, "epochs": 1, "min_steps": 2, "batch_size": 18}}


def _tiny(n_per_class=6, size=32, channels=3, seed=0):
    """Three visually distinct classes: horizontal stripes, vertical stripes, a bright centre blob."""
    rng = np.random.default_rng(seed)
    imgs, labels = [], []
    yy, xx = np.mgrid[0:size, 0:size]
    for label in range(3):
        for _ in range(n_per_class):
            phase = rng.uniform(0, 2 * np.pi)
            if label == 0:
                base = 0.5 + 0.5 * np.sin(yy / 2.0 + phase)
            elif label == 1:
                base = 0.5 + 0.5 * np.sin(xx / 2.0 + phase)
            else:
                c = size / 2 + rng.uniform(-3, 3, 2)
                base = np.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / (2 * (size / 6) ** 2))
            img = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1)
            imgs.append(np.repeat((img * 255).astype(np.uint8)[..., None], channels, axis=2))
            labels.append(label)
    return np.stack(imgs), np.array(labels)


def test_registry_is_populated():
    for name in ("pixels-svm", "hog-svm", "bovw-svm", "harris-bovw-svm", "kmeans-svm"):
        assert name in METHODS
    for name in METHODS:
        spec = registry.get_spec(name)
        assert spec.family in ("classical", "deep", "transfer") and spec.description
    for name in ("pretrained-features-svm", "pretrained-finetune"):
        assert registry.get_spec(name).family == "transfer"


@pytest.mark.parametrize("name", METHODS)
def test_method_protocol_on_tiny_data(name):
    x, y = _tiny()
    spec = registry.get_spec(name)
    params = {"random_state": 0} if _accepts_seed(spec.factory) else {}
    params.update(TINY.get(name, {}))
    if spec.family == "deep":  # the protocol only: training itself is tested in tests/deep (overfitting a batch)
        short = {"epochs": 1, "min_steps": 2, "batch_size": 18}
        params.update({"cnn_options": short} if name == "cnn-features-svm" else short)
    method = registry.create(name, **params)
    assert method.fit(x, y) is method
    pred = np.asarray(method.predict(x))
    assert pred.shape == (len(x),) and set(np.unique(pred)) <= {0, 1, 2}
    if spec.family == "classical" or name == "pretrained-features-svm":
        assert (pred == y).mean() >= 0.6, f"{name} does not fit three easy classes: {(pred == y).mean():.2f}"
    if hasattr(method, "transform"):
        f = np.asarray(method.transform(x[:4]))
        assert f.shape[0] == 4 and np.isfinite(f).all()
    grey, _ = _tiny(2, channels=1)
    assert np.asarray(method.predict(grey)).shape == (6,)
