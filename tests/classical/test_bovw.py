"""The bag of visual words (bovw.py): encodings' known answers, BagOfVisualWords on images, its
scikit-learn contract by hand (see test_sklearn_checks.py for the conformance suite), bad inputs."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.kernel_approximation import AdditiveChi2Sampler
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from visionkit import VisionkitError
from visionkit.classical import (
    BagOfVisualWords,
    Chi2SVC,
    LinearSVM,
    LocalFeatures,
    assign_words,
    encode,
    pyramid_cells,
    triangle_codes,
)


# ---------------------------------------------------------------------------- encodings
def test_assign_words_and_hard_histogram_known_answer():
    vocab = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], np.float32)
    x = np.array([[1, 1], [9, 1], [1, 8], [0, 9], [8, -1]], np.float32)
    np.testing.assert_array_equal(assign_words(x, vocab), [0, 1, 2, 2, 1])
    pos = np.array([[1, 1], [1, 9], [9, 1], [9, 9], [1, 1]], np.float32)  # in a 10 x 10 image
    f = LocalFeatures(x, pos, np.ones(5, np.float32), (10, 10))
    v = encode(f, vocab, encoding="hard", pyramid=(1, 2), power=None, l2=False)
    assert v.shape == ((1 + 4) * 3,)
    np.testing.assert_allclose(v[:3], [1 / 5, 2 / 5, 2 / 5])  # level 0: whole image, sums to 1
    # level 1, cells (0,0) (0,1) (1,0) (1,1): words {0, 1}, {1}, {2}, {2}
    np.testing.assert_allclose(v[3:].reshape(4, 3) * 5, [[1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]])
    h = encode(f, vocab, encoding="hard", pyramid=(1,), power=0.5, l2=True)
    np.testing.assert_allclose(h, np.sqrt([1, 2, 2]) / np.sqrt(5), rtol=1e-6)  # Hellinger then L2


def test_triangle_codes_known_answer():
    vocab = np.array([[0.0], [1.0], [3.0]], np.float32)
    z = np.array([[1.0, 0.0, 2.0]])  # distances of x = 1 to the three words; mean 1
    np.testing.assert_allclose(triangle_codes(np.array([[1.0]], np.float32), vocab), np.maximum(0, 1 - z))


def test_vlad_known_answer():
    vocab = np.array([[0.0, 0.0], [10.0, 10.0]], np.float32)
    x = np.array([[1, 0], [0, 2], [11, 10]], np.float32)
    f = LocalFeatures(x, np.zeros((3, 2), np.float32), np.ones(3, np.float32), (4, 4))
    v = encode(f, vocab, encoding="vlad", pyramid=(1,), power=None, l2=False)
    np.testing.assert_allclose(v, np.r_[np.array([1, 2]) / np.sqrt(5), [1, 0]], rtol=1e-6)


def test_pyramid_cells():
    rel = np.array([[0.0, 0.0], [0.49, 0.51], [0.99, 0.99]])
    np.testing.assert_array_equal(pyramid_cells(rel, 2), [0, 1, 3])
    np.testing.assert_array_equal(pyramid_cells(rel, 1), [0, 0, 0])


def test_empty_features_encode_to_zeros():
    f = LocalFeatures(np.zeros((0, 128), np.float32), np.zeros((0, 2), np.float32), np.zeros(0, np.float32), (32, 32))
    v = encode(f, np.ones((5, 128), np.float32), pyramid=(1, 2))
    assert v.shape == (25,) and not v.any()


# ---------------------------------------------------------------------------- the estimator
@pytest.mark.parametrize(
    "descriptor,params,encoding,whiten",
    [
        ("dense-sift", {"step": 8, "patch_sizes": (16,)}, "hard", False),
        ("dense-sift", {"step": 8, "patch_sizes": (16,)}, "vlad", False),
        ("patches", {"patch_size": 6, "stride": 2}, "triangle", True),
    ],
)
def test_bovw_fit_transform_separates_textures(textures, descriptor, params, encoding, whiten):
    X, y = textures
    bovw = BagOfVisualWords(
        descriptor=descriptor, descriptor_params=params, n_words=8, encoding=encoding, pyramid=(1, 2), whiten=whiten, random_state=0
    )
    assert bovw.fit(X) is bovw
    F = bovw.transform(X)
    width = 8 * (128 if descriptor == "dense-sift" else 108 // 3) if encoding == "vlad" else 8
    assert F.shape == (len(X), 5 * width) == (len(X), bovw.n_features_out_)
    assert bovw.vocabulary_.shape[0] == 8
    clf = LinearSVC().fit(F, y)
    assert clf.score(F, y) == 1.0


def test_bovw_deterministic_and_seed_matters(textures):
    X, _ = textures
    kw = dict(descriptor="dense-sift", descriptor_params={"step": 8, "patch_sizes": (16,)}, n_words=6, max_descriptors=100)
    a = BagOfVisualWords(random_state=3, **kw).fit(X)
    b = BagOfVisualWords(random_state=3, **kw).fit(X)
    c = BagOfVisualWords(random_state=4, **kw).fit(X)
    np.testing.assert_array_equal(a.vocabulary_, b.vocabulary_)
    assert not np.array_equal(a.vocabulary_, c.vocabulary_)
    assert a.n_descriptors_fit_ == 100


def test_bovw_accepts_a_random_state_instance(textures):
    X, _ = textures
    kw = dict(descriptor="dense-sift", descriptor_params={"step": 8, "patch_sizes": (16,)}, n_words=6, max_descriptors=100)
    a = BagOfVisualWords(random_state=np.random.RandomState(0), **kw).fit(X)
    b = BagOfVisualWords(random_state=np.random.RandomState(0), **kw).fit(X)
    np.testing.assert_array_equal(a.vocabulary_, b.vocabulary_)


def test_bovw_parallel_equals_serial(textures):
    X, _ = textures
    kw = dict(descriptor="dense-sift", descriptor_params={"step": 8, "patch_sizes": (16,)}, n_words=6, random_state=0, chunk_size=3)
    a = BagOfVisualWords(**kw).fit(X)
    b = BagOfVisualWords(n_jobs=2, **kw).fit(X)
    np.testing.assert_array_equal(a.vocabulary_, b.vocabulary_)
    np.testing.assert_allclose(a.transform(X), b.transform(X), atol=1e-6)


def test_bovw_sklearn_contract(textures):
    X, _ = textures
    est = BagOfVisualWords(descriptor="patches", n_words=4, max_descriptors=500, random_state=0)
    assert set(est.get_params()) >= {"descriptor", "n_words", "random_state", "pyramid"}
    cl = clone(est)
    assert cl.get_params() == est.get_params() and not hasattr(cl, "vocabulary_")
    with pytest.raises(NotFittedError):
        est.transform(X)
    est.fit(X)
    learned = [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]
    assert {"vocabulary_", "whitener_", "kmeans_", "n_descriptors_fit_", "n_features_out_"} <= set(learned)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(X[:2]), est.transform(X[:2]))
    assert est.get_feature_names_out().shape == (est.n_features_out_,)
    with pytest.raises(TypeError):
        BagOfVisualWords(8)  # keyword-only


def test_bovw_in_pipeline_with_chi2_map(textures):
    X, y = textures
    pipe = Pipeline(
        [
            ("bovw", BagOfVisualWords(descriptor_params={"step": 8, "patch_sizes": (16,)}, n_words=8, power=None, l2=False, random_state=0)),
            ("chi2", AdditiveChi2Sampler(sample_steps=2)),
            ("svm", LinearSVM(max_iter=100)),
        ]
    )
    assert pipe.fit(X, y).score(X, y) == 1.0
    chi = Pipeline([("bovw", BagOfVisualWords(descriptor_params={"step": 8, "patch_sizes": (16,)}, n_words=8, power=None, l2=False, random_state=0)), ("svm", Chi2SVC())])
    assert chi.fit(X, y).score(X, y) == 1.0


# ---------------------------------------------------------------------------- bad inputs
def test_vocabulary_larger_than_descriptors(textures):
    X, _ = textures
    with pytest.raises(VisionkitError, match="larger than the"):
        BagOfVisualWords(descriptor_params={"step": 8, "patch_sizes": (16,)}, n_words=10_000, random_state=0).fit(X[:2])


def test_image_smaller_than_patch():
    with pytest.raises(VisionkitError, match="smaller than the smallest descriptor patch"):
        BagOfVisualWords(n_words=2).fit(np.zeros((3, 8, 8, 1), np.uint8))


def test_blank_images_have_no_harris_keypoints(textures):
    X, _ = textures
    blank = np.zeros((2, 40, 40, 1), np.uint8)
    with pytest.raises(VisionkitError, match="gave no descriptors"):
        BagOfVisualWords(descriptor="harris-sift", n_words=2).fit(blank)
    squares = np.zeros((3, 40, 40, 1), np.uint8)
    for i in range(3):
        squares[i, 8 + i : 30, 10 : 28 + i] = 255
    bovw = BagOfVisualWords(descriptor="harris-sift", descriptor_params={"patch_sizes": (16,)}, n_words=4, pyramid=(1,), random_state=0)
    bovw.fit(squares)
    F = bovw.transform(np.concatenate([blank, squares[:1]]))
    assert not F[0].any() and not F[1].any() and F[2].any()  # documented: all-zero vector


def test_mixed_sizes_and_channels(textures):
    X, _ = textures
    rng = np.random.default_rng(0)
    mixed = [X[0], rng.integers(0, 256, (50, 64, 3), dtype=np.uint8), X[1][..., 0], rng.integers(0, 256, (33, 41, 1), dtype=np.uint8)]
    bovw = BagOfVisualWords(descriptor_params={"step": 8, "patch_sizes": (16,)}, n_words=4, random_state=0).fit(mixed)
    assert bovw.transform(mixed).shape == (4, 4 * 21)
    # raw patches of grey and colour images have different lengths: a clear error
    p = BagOfVisualWords(descriptor="patches", n_words=4, pyramid=(1,), random_state=0).fit(X)
    with pytest.raises(VisionkitError, match="channel counts"):
        p.transform([rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)])


def test_bad_parameters(textures):
    X, _ = textures
    with pytest.raises(VisionkitError, match="encoding"):
        BagOfVisualWords(encoding="fisher").fit(X)
    with pytest.raises(VisionkitError, match="descriptor"):
        BagOfVisualWords(descriptor="surf").fit(X)
    with pytest.raises(VisionkitError, match="pyramid"):
        BagOfVisualWords(pyramid=(0,)).fit(X)
    with pytest.raises(VisionkitError, match="expected an array"):
        BagOfVisualWords().fit("images")
