"""preprocessing.py: the image-list check, MirrorAugmented (train on images + left-right mirrors, average
both views and, with test_shifts, their translations), shift_images and ChunkedStandardScaler."""

import numpy as np
import pytest

from sklearn.base import BaseEstimator, ClassifierMixin

from visionkit import VisionkitError
from visionkit.classical import BagOfVisualWords, MirrorAugmented, make_pixels_svm, mirror_images, shift_images, augmented_views


def test_image_list_bad_inputs():
    from visionkit.classical import as_image_list

    with pytest.raises(VisionkitError, match="at least one image"):
        as_image_list([])
    with pytest.raises(VisionkitError, match="at least one image"):
        as_image_list(np.zeros((0, 8, 8), np.uint8))


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


def test_shift_images_known_answer_against_opencv():
    x = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    s = shift_images(x, 2, -1)  # 2 right, 1 up
    assert s.shape == x.shape and s.dtype == x.dtype and s.flags.c_contiguous
    np.testing.assert_array_equal(s[:, :3, 2:], x[:, 1:, :3])  # the content moved
    np.testing.assert_array_equal(s[:, :, 0], s[:, :, 2])  # the uncovered columns repeat the edge
    np.testing.assert_array_equal(s[:, 3], s[:, 2])
    # = cv2.warpAffine by a translation with BORDER_REPLICATE
    import cv2

    ref = cv2.warpAffine(x[1], np.float32([[1, 0, 2], [0, 1, -1]]), (5, 4), flags=cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(s[1], ref)
    np.testing.assert_array_equal(shift_images(x, 0, 0), x)
    lst = shift_images([x[0, :, :, 0], np.zeros((7, 9, 3), np.float32)], -1, 0)
    assert isinstance(lst, list) and lst[1].shape == (7, 9, 3)
    np.testing.assert_array_equal(lst[0][:, :4], x[0, :, 1:, 0])
    with pytest.raises(VisionkitError, match=r"\|dx\| < width 5"):
        shift_images(x, 5, 0)
    with pytest.raises(VisionkitError, match="dy: expected an integer"):
        shift_images(x, 0, 1.5)


def test_test_shifts_average_ten_views():
    x = np.zeros((2, 6, 6, 1), np.uint8)
    x[0, :, 2] = 60  # one bright column just left of the centre
    clf = MirrorAugmented(_Recorder(), test_shifts=1).fit(x, [0, 1])
    views = list(clf._views(x))
    assert len(views) == 10
    want = np.mean([_Recorder().decision_function(v)[:, 0] for v in views], axis=0)
    np.testing.assert_allclose(clf.decision_function(x)[:, 0], want)
    # the column (x = 2) stays in the left half (x < 3) in the image, its up and down shifts, its
    # 1-left shift (x = 1) and the mirror of its 1-right shift (x = 3 -> 2); the other 5 views have
    # it at x >= 3: 5 of 10 views score 60 / 3, the rest 0
    np.testing.assert_allclose(clf.decision_function(x)[0, 0], 5 * 20 / 10)
    assert len(list(clf.set_params(test_time=False)._views(x))) == 5
    keys = [k for k, _ in augmented_views(x, shift=1)]
    assert keys[:4] == [(0, 0, False), (0, 0, True), (1, 0, False), (1, 0, True)] and len(keys) == 10
    for (dx, dy, m), v in augmented_views(x, shift=1):
        want = shift_images(x, dx, dy)
        np.testing.assert_array_equal(v, mirror_images(want) if m else want)
    assert [k for k, _ in augmented_views(x, mirror=False)] == [(0, 0, False)]
    for bad in (-1, 1.5, True):
        with pytest.raises(VisionkitError, match="test_shifts: expected a non-negative integer"):
            MirrorAugmented(_Recorder(), test_shifts=bad).fit(x, [0, 1])


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


def _lazy_folder(root, n=7, size=(20, 24)):
    from PIL import Image

    from visionkit.data import load_image_folder

    rng = np.random.default_rng(1)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, size + (3,), dtype=np.uint8)).save(root / c / f"{i}.jpg")
    return load_image_folder(root), load_image_folder(root, lazy=True)


def test_features_of_a_lazy_folder_are_computed_in_chunks_and_equal_the_in_memory_ones(tmp_path, monkeypatch):
    import visionkit.classical.preprocessing as prep
    from visionkit.classical import HOGFeatures, PixelFeatures, as_image_list, transform_in_chunks

    eager, lazy = _lazy_folder(tmp_path)
    read = []
    real_read = type(lazy.images).read
    monkeypatch.setattr(type(lazy.images), "read", lambda self, index=None: read.append(len(self) if index is None else index) or real_read(self, index))
    monkeypatch.setattr(prep, "STREAM_CHUNK", 3)
    for est in (HOGFeatures(size=(16, 16), pixels_per_cell=(4, 4), cells_per_block=(2, 2), extra_cells=((8, 8),)), PixelFeatures(size=(8, 8))):
        want = est.fit(eager.images).transform(eager.images)
        read.clear()
        got = est.fit(lazy.images).transform(lazy.images)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.float32
        assert read[0] == slice(0, 1) or est.__class__ is PixelFeatures  # fit decodes one image (HOG) or none (pixels)
    # the chunks are STREAM_CHUNK images, read as slices; never the whole folder at once
    chunks = [r for r in read if isinstance(r, slice)]
    assert chunks == [slice(s, s + 3) for s in range(0, 14, 3)]
    f = lambda x: np.asarray(x, np.float32).reshape(len(x), -1)[:, :5]  # noqa: E731
    np.testing.assert_array_equal(transform_in_chunks(f, lazy.images, chunk_size=4), f(eager.images))
    np.testing.assert_array_equal(transform_in_chunks(f, eager.images), f(eager.images))
    # a transformer that does not stream decodes the folder whole
    np.testing.assert_array_equal(np.stack(as_image_list(lazy.images)), eager.images)
