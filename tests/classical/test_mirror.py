"""MirrorAugmented (train on images + left-right mirrors, average both views), Lloyd k-means words, ChunkedStandardScaler."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from visionkit import VisionkitError, registry
from visionkit.classical import BagOfVisualWords, MirrorAugmented, make_kmeans_svm, make_pixels_svm, mirror_images
from visionkit.data import load_digits


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    idx = np.random.default_rng(0).permutation(len(d.labels))
    return d.images[idx[:300]], d.labels[idx[:300]], d.images[idx[300:400]], d.labels[idx[300:400]]


class _Recorder(ClassifierMixin, BaseEstimator):
    """Remembers what it was fitted on; scores = mean intensity of each image's left half."""

    def fit(self, X, y):
        self.X_, self.y_ = X, np.asarray(y)
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X):
        left = np.array([np.asarray(im, float)[:, : im.shape[1] // 2].mean() for im in X])
        return np.stack([left, -left], axis=1)


def test_mirror_images_array_and_list():
    x = np.arange(2 * 3 * 4 * 1, dtype=np.uint8).reshape(2, 3, 4, 1)
    m = mirror_images(x)
    assert m.shape == x.shape and m.flags.c_contiguous
    np.testing.assert_array_equal(m[0, :, 0], x[0, :, 3])
    np.testing.assert_array_equal(mirror_images(m), x)
    lst = [np.arange(6, dtype=np.uint8).reshape(2, 3), np.zeros((5, 7, 3), np.uint8)]
    ml = mirror_images(lst)
    assert isinstance(ml, list) and ml[1].shape == (5, 7, 3)
    np.testing.assert_array_equal(ml[0], [[2, 1, 0], [5, 4, 3]])


def test_fits_on_images_and_mirrors():
    x = np.zeros((4, 6, 6, 1), np.uint8)
    x[:, :, :3] = 200  # bright left half: the mirrors are bright on the right
    y = np.array([0, 1, 0, 1])
    clf = MirrorAugmented(_Recorder(), test_time=False).fit(x, y)
    assert len(clf.estimator_.X_) == 8
    np.testing.assert_array_equal(clf.estimator_.y_, np.concatenate([y, y]))
    np.testing.assert_array_equal(clf.estimator_.X_[4:], x[:, :, ::-1])
    # without test-time averaging the score is the image's own; with it, the mean over both views
    np.testing.assert_allclose(clf.decision_function(x)[:, 0], 200.0)
    clf.set_params(test_time=True)
    np.testing.assert_allclose(clf.decision_function(x)[:, 0], 100.0)


def test_test_time_average_is_mirror_invariant(digits):
    Xtr, ytr, Xte, _ = digits
    clf = MirrorAugmented(make_pixels_svm(size=(8, 8))).fit(Xtr, ytr)
    np.testing.assert_allclose(clf.decision_function(Xte), clf.decision_function(mirror_images(Xte)), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(clf.predict(Xte), clf.predict(mirror_images(Xte)))
    assert clf.transform(Xte).shape == (len(Xte), 64)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))


def test_kmeans_svm_mirror_and_full_kmeans(digits):
    Xtr, ytr, Xte, yte = digits
    tiny = {"n_words": 32, "size": (12, 12), "max_descriptors": 5000}
    m = registry.create("kmeans-svm", mirror=True, kmeans="full", kmeans_max_iter=20, random_state=3, **tiny)
    assert isinstance(m, MirrorAugmented)
    pred = m.fit(Xtr, ytr).predict(Xte)
    assert np.mean(pred == yte) > 0.6
    assert m.transform(Xte).shape == (len(Xte), 4 * 32)
    again = make_kmeans_svm(mirror=True, kmeans="full", kmeans_max_iter=20, random_state=3, **tiny).fit(Xtr, ytr)
    np.testing.assert_array_equal(again.predict(Xte), pred)


def test_full_kmeans_uses_lloyd(digits):
    Xtr = digits[0]
    bovw = BagOfVisualWords(descriptor="patches", descriptor_params={"patch_size": 4}, n_words=8, kmeans="full",
                            kmeans_max_iter=300, encoding="triangle", pyramid=(1,), random_state=0).fit(Xtr[..., 0])
    assert type(bovw.kmeans_).__name__ == "KMeans" and bovw.vocabulary_.shape == (8, 16)


def test_bad_inputs():
    with pytest.raises(VisionkitError, match="decision_function or predict_proba"):
        MirrorAugmented(object()).fit(np.zeros((2, 4, 4), np.uint8), [0, 1])
    with pytest.raises(VisionkitError, match="expected 3 labels"):
        MirrorAugmented(_Recorder()).fit(np.zeros((3, 4, 4), np.uint8), [0, 1])
    with pytest.raises(VisionkitError, match="has no transform"):
        MirrorAugmented(_Recorder()).fit(np.zeros((2, 4, 4), np.uint8), [0, 1]).transform(np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(VisionkitError, match="kmeans: expected 'minibatch' or 'full'"):
        BagOfVisualWords(kmeans="elkan").fit(np.zeros((2, 40, 40), np.uint8))


def test_chunked_standard_scaler_equals_sklearn():
    from sklearn.preprocessing import StandardScaler

    from visionkit.classical import ChunkedStandardScaler

    rng = np.random.default_rng(0)
    X = (rng.normal(3.0, 2.0, (1000, 17)) * rng.uniform(0.1, 10, 17)).astype(np.float32)
    X[:, 4] = 5.0  # a constant column: scale 1, as sklearn
    ref = StandardScaler().fit(X)
    got = ChunkedStandardScaler(chunk_size=64).fit(X)
    np.testing.assert_allclose(got.mean_, ref.mean_, rtol=1e-6)
    np.testing.assert_allclose(got.var_, ref.var_, rtol=1e-5)
    np.testing.assert_allclose(got.scale_, ref.scale_, rtol=1e-5)
    assert got.n_samples_seen_ == 1000
    # copy=False transforms in place, keeping float32
    Z = X.copy()
    out = ChunkedStandardScaler(copy=False, chunk_size=100).fit(Z).transform(Z)
    assert out is Z or np.shares_memory(out, Z)
    np.testing.assert_allclose(out, ref.transform(X), rtol=1e-4, atol=1e-5)
    with pytest.raises(VisionkitError, match="chunk_size"):
        ChunkedStandardScaler(chunk_size=0).fit(X)
