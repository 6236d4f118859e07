import numpy as np
import pytest
from sklearn.neighbors import NearestCentroid
from sklearn.neural_network import MLPClassifier

from visionkit import registry


class _Flatten:
    """A real (small) method for harness tests: pixels -> sklearn estimator."""

    def __init__(self, est):
        self.est = est

    def _x(self, images):
        if isinstance(images, list):
            images = np.stack(images)
        return images.reshape(len(images), -1).astype(np.float32) / 255

    def fit(self, images, labels):
        self.est.fit(self._x(images), labels)
        return self

    def predict(self, images):
        return self.est.predict(self._x(images))

    def transform(self, images):
        return self._x(images)


def _register_test_methods():
    if "test-centroid" not in registry.METHODS:
        registry.register("test-centroid", lambda **p: _Flatten(NearestCentroid()), family="classical",
                          description="nearest class mean of the pixels (tests only)")
        registry.register("test-mlp", lambda random_state=0, **p: _Flatten(MLPClassifier((32,), max_iter=60, random_state=random_state)),
                          family="deep", description="a one-hidden-layer MLP (tests only)")


@pytest.fixture
def test_methods():
    _register_test_methods()
    yield ["test-centroid", "test-mlp"]
