"""Stacked feature blocks: principal axes, chunked moments, block scaling, ReducedFeatures, FeatureStack.

Known answers (an axis-aligned Gaussian's first axis, a full-rank projection that keeps distances),
scikit-learn's PCA and numpy's moments as references, chunked = whole, fit_transform = fit + transform,
same seed same result, bad inputs. The registered ``kmeans-scattering-svm`` is fitted on small photos.
"""

import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from visionkit import VisionkitError, registry
from visionkit.classical import FeatureStack, PixelFeatures, ReducedFeatures, block_factor, column_moments, principal_axes


def _images(n=60, side=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)


# ---------------------------------------------------------------- pure functions


def test_principal_axes_known_answer():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(2000, 3)) * [5.0, 2.0, 0.5]
    F -= F.mean(0)
    V, var = principal_axes(F, 2)
    np.testing.assert_allclose(np.abs(V), [[1, 0, 0], [0, 1, 0]], atol=0.03)
    np.testing.assert_allclose(var, [25, 4], rtol=0.1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_principal_axes_match_sklearn_pca(dtype):
    rng = np.random.default_rng(1)
    F = (rng.normal(size=(300, 8)) @ rng.normal(size=(8, 40)) + 0.01 * rng.normal(size=(300, 40))).astype(dtype)
    F -= F.mean(0)
    V, var = principal_axes(F, 5, random_state=3)
    ref = PCA(n_components=5, svd_solver="full").fit(F)
    assert V.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-8
    np.testing.assert_allclose(np.abs(V @ ref.components_.T.astype(dtype)), np.eye(5), atol=tol * 10)
    np.testing.assert_allclose(var, ref.explained_variance_, rtol=tol)
    V2, _ = principal_axes(F, 5, random_state=3)
    np.testing.assert_array_equal(V, V2)


@pytest.mark.parametrize("bad, k, match", [
    (np.zeros(5), 1, "2-D float"),
    (np.zeros((4, 3), dtype=np.int64), 1, "2-D float"),
    (np.zeros((4, 3)), 4, "at most min"),
    (np.zeros((4, 3)), 0, "n_components"),
])
def test_principal_axes_bad_inputs(bad, k, match):
    with pytest.raises(VisionkitError, match=match):
        principal_axes(bad, k)


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_column_moments_equal_numpy(chunk):
    F = (np.random.default_rng(2).normal(size=(50, 6)) * 100 + 1e4).astype(np.float32)
    mean, var = column_moments(F, chunk_size=chunk)
    np.testing.assert_allclose(mean, F.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(var, F.astype(np.float64).var(0), rtol=1e-9)
    with pytest.raises(VisionkitError, match="at least one row"):
        column_moments(np.zeros((0, 3)))


def test_block_factor():
    assert block_factor(15552.0, 6400.0, 1.0) == pytest.approx(np.sqrt(6400 / 15552))
    assert block_factor(100.0, 100.0, 0.5) == 0.5
    with pytest.raises(VisionkitError, match="total_variance"):
        block_factor(0.0, 1.0, 1.0)
    with pytest.raises(VisionkitError, match="weight"):
        block_factor(1.0, 1.0, -1.0)


# ---------------------------------------------------------------- ReducedFeatures


def test_reduced_full_rank_keeps_standardised_distances():
    """With every axis kept, the projection is a rotation of the standardised features."""
    X = _images(40, side=4)
    red = ReducedFeatures(PixelFeatures(size=(4, 4), channels="gray"), n_components=16).fit(X)
    Z = red.transform(X)
    F = PixelFeatures(size=(4, 4), channels="gray").fit(X).transform(X).astype(np.float64)
    S = (F - F.mean(0)) / F.std(0)
    d_ref = np.linalg.norm(S[:, None] - S[None], axis=-1)
    d = np.linalg.norm(Z[:, None].astype(np.float64) - Z[None], axis=-1)
    np.testing.assert_allclose(d, d_ref, atol=1e-3)
    assert red.variance_kept_ == pytest.approx(1.0, abs=1e-5)
    assert red.n_features_in_ == 16 and red.n_features_out_ == 16


def test_reduced_chunks_sample_and_seed():
    X = _images(70)
    base = ReducedFeatures(PixelFeatures(size=(8, 8)), n_components=10, fit_size=30, chunk_size=1000, random_state=4)
    whole = clone(base).fit(X).transform(X)
    chunked = clone(base).set_params(chunk_size=7).fit(X).transform(X)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)
    # fit_transform reuses the fitting sample's rows, in their places
    np.testing.assert_allclose(clone(base).fit_transform(X), whole, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(clone(base).fit(X).transform(X), whole)  # same seed, same result
    other = clone(base).set_params(random_state=5).fit(X)
    assert not np.allclose(np.abs(other.components_), np.abs(clone(base).fit(X).components_))
    # a list of images gives the rows of the array
    np.testing.assert_allclose(clone(base).fit(list(X)).transform(list(X)), whole, rtol=1e-5, atol=1e-5)


def test_reduced_components_clamped_to_the_sample():
    X = _images(12)
    red = ReducedFeatures(PixelFeatures(size=(8, 8)), n_components=500).fit(X)
    assert red.n_components_ == 12 and red.transform(X).shape == (12, 12)


def test_reduced_errors_and_unfitted():
    X = _images(10)
    with pytest.raises(NotFittedError):
        ReducedFeatures(PixelFeatures()).transform(X)
    with pytest.raises(VisionkitError, match="transformer"):
        ReducedFeatures(object()).fit(X)
    with pytest.raises(VisionkitError, match="n_components"):
        ReducedFeatures(PixelFeatures(), n_components=0).fit(X)
    with pytest.raises(VisionkitError, match="fit_size"):
        ReducedFeatures(PixelFeatures(), fit_size=-1).fit(X)
    red = ReducedFeatures(PixelFeatures(size=(8, 8)), n_components=4).fit(X)
    red.transformer_.set_params(size=(4, 4))  # now 48 features, fitted on 192
    with pytest.raises(VisionkitError, match="expected 192 features"):
        red.transform(X)
    with pytest.raises(VisionkitError, match="X"):
        red.transform(np.zeros((0, 8, 8, 3), dtype=np.uint8))
    restored = pickle.loads(pickle.dumps(ReducedFeatures(PixelFeatures(size=(8, 8)), n_components=4).fit(X)))
    assert restored.transform(X).shape == (10, 4)


# ---------------------------------------------------------------- FeatureStack


def _stack(**kw):
    return FeatureStack([("a", PixelFeatures(size=(8, 8))),
                         ("b", ReducedFeatures(PixelFeatures(size=(4, 4)), n_components=8, fit_size=25))], **kw)


@pytest.mark.parametrize("w", [1.0, 0.5, 2.0])
def test_stack_scales_later_blocks_to_their_weight(w):
    X = _images(50)
    st = _stack(weights={"b": w}, chunk_size=9)
    Z = st.fit_transform(X)
    assert Z.dtype == np.float32 and Z.shape == (50, 192 + 8) and st.widths_ == [192, 8]
    va, vb = Z[:, :192].var(0).sum(), Z[:, 192:].var(0).sum()
    assert vb / va == pytest.approx(w**2, rel=1e-4)
    # the first block is the block's own output, untouched
    np.testing.assert_array_equal(Z[:, :192], PixelFeatures(size=(8, 8)).fit(X).transform(X))
    np.testing.assert_allclose(st.transform(X), Z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(clone(st).fit(X).transform(X[:7]), Z[:7], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("blocks, weights, match", [
    ([("a", PixelFeatures())], None, "at least two"),
    ([("a", PixelFeatures()), ("a", PixelFeatures())], None, "distinct names"),
    ([("a", PixelFeatures()), ("b", object())], None, r"blocks\['b'\]"),
    ([("a", PixelFeatures()), ("b", PixelFeatures())], {"a": 2.0}, "after the first"),
    ([("a", PixelFeatures()), ("b", PixelFeatures())], {"b": 0.0}, "weights"),
    ("pixels", None, "at least two"),
])
def test_stack_bad_blocks(blocks, weights, match):
    with pytest.raises(VisionkitError, match=match):
        FeatureStack(blocks, weights=weights).fit(_images(5))


def test_stack_constant_first_block_is_refused():
    X = np.full((6, 8, 8, 3), 7, dtype=np.uint8)
    with pytest.raises(VisionkitError, match="constant"):
        FeatureStack([("a", PixelFeatures(size=(8, 8))), ("b", PixelFeatures(size=(4, 4)))]).fit(X)


def test_stack_unfitted():
    with pytest.raises(NotFittedError):
        _stack().transform(_images(3))


# ---------------------------------------------------------------- the registered method


def test_kmeans_scattering_svm_learns_two_kinds_of_texture():
    """Vertical against horizontal gratings: both blocks see it; the stacked SVM separates them."""
    from tests.conftest import two_classes

    X, y = two_classes(n=20, size=32)
    clf = registry.create("kmeans-scattering-svm", n_words=16, n_components=16, fit_size=20, C=0.01, max_iter=100,
                          kmeans="minibatch", random_state=0)
    clf.fit(X[:30], y[:30])
    assert (clf.predict(X[30:]) == y[30:]).mean() == 1.0
    stack = clf.estimator_.named_steps["features"]
    assert stack.widths_ == [80, 16]  # the Coates block pooled over the whole image and its quadrants
    assert clf.transform(X[:3]).shape == (3, 96)
    assert clf.test_shifts == 2 and clf.estimator_.named_steps["svm"].n_threads == 1
    quadrants = registry.create("kmeans-scattering-svm", n_words=16, coates_pooling=2, n_jobs=2)
    assert quadrants.estimator.named_steps["svm"].n_threads == 2
    from joblib import effective_n_jobs

    all_cores = registry.create("kmeans-scattering-svm", n_words=16, n_jobs=-1)  # joblib's -1: every core
    assert all_cores.estimator.named_steps["svm"].n_threads == effective_n_jobs(-1) >= 1
    bovw = quadrants.estimator.named_steps["features"].blocks[0][1].named_steps["bovw"]
    assert bovw.pyramid == (2,)


class _Flat(TransformerMixin, BaseEstimator):
    """Images (N, H, W, C) uint8 -> every ``step``-th pixel as float32: one allocation of the output's size.

    ``view=True`` returns a view into a wider array instead (a buffer the stack must not grow).
    """

    def __init__(self, step=1, view=False):
        self.step = step
        self.view = view

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        F = X[:, :: self.step, :: self.step].reshape(len(X), -1).astype(np.float32)
        return np.hstack([F, F])[:, : F.shape[1]] if self.view else F


def test_stack_grows_the_first_block_in_place():
    """The stack reuses the first block's buffer: the traced peak stays under first block + stack."""
    import tracemalloc

    X = _images(3000, side=16)
    st = FeatureStack([("a", _Flat()), ("b", _Flat(step=4))], weights={"b": 0.5}, chunk_size=256)
    first = _Flat().transform(X)
    tracemalloc.start()
    Z = st.fit_transform(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert Z.shape == (3000, 768 + 48)
    assert peak < first.nbytes + Z.nbytes  # a copy holds both at once (19.0 MB); grown in place: 14 MB
    np.testing.assert_array_equal(Z[:, :768], first)
    np.testing.assert_allclose(Z, st.transform(X), rtol=1e-6)


def test_stack_copies_a_first_block_it_does_not_own():
    X = _images(50, side=8)
    a = FeatureStack([("a", _Flat(view=True)), ("b", _Flat(step=4))], weights={"b": 0.5}).fit_transform(X)
    b = FeatureStack([("a", _Flat()), ("b", _Flat(step=4))], weights={"b": 0.5}).fit_transform(X)
    np.testing.assert_array_equal(a, b)
