"""Fisher vectors and VLAD: known answers, skimage's fisher_vector on the same GMM, the pyramid, the estimators.

``DiagonalGMM`` (2-D tables in) runs scikit-learn's conformance suite in full, no check expected to fail
(scikit-learn itself skips ``check_array_api_input``: "SCIPY_ARRAY_API is not set").

``FisherVectors`` takes images, not the 2-D tables of scikit-learn's conformance checks; it declares it
in its tags (as ``BagOfVisualWords``), ``check_estimator`` then runs only ``check_estimator_cloneable``,
and the contract the skipped checks cover is tested here by hand.
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks
from skimage.feature import fisher_vector as sk_fisher_vector

from visionkit import VisionkitError
from visionkit.classical.bovw import pyramid_cells, pyramid_grid
from visionkit.classical.fisher import DiagonalGMM, FisherVectors, fisher_encode, fisher_vector, gmm_posteriors


class _GMM:
    """A diagonal GMM given by hand."""

    def __init__(self, w, mu, var):
        self.weights_, self.means_, self.covariances_ = (np.asarray(a, np.float64) for a in (w, mu, var))


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (400, 6)), rng.normal(3, 0.5, (400, 6))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(5, covariance_type="diag", random_state=0).fit(x)
    return x, gmm


# ------------------------------------------------------------------------------ the formulas
def test_one_gaussian_known_answer():
    # K = 1, N(0, 1): G_mu = mean(x), G_sigma = mean(x^2 - 1) / sqrt(2), G_w = (1 - 1) / 1 = 0
    x = np.array([[1.0, 2.0], [3.0, -2.0]])
    v = fisher_vector(x, _GMM([1.0], [[0.0, 0.0]], [[1.0, 1.0]]), mixture_weights=True, power=None, l2=False)
    np.testing.assert_allclose(v, [0.0, 2.0, 0.0, (5 - 1) / np.sqrt(2), (4 - 1) / np.sqrt(2)])
    # a mean of 1 and a variance of 4 in the second dimension: standardised first
    v = fisher_vector(x, _GMM([1.0], [[1.0, 0.0]], [[1.0, 4.0]]), power=None, l2=False)
    np.testing.assert_allclose(v, [1.0, 0.0, (2 - 1) / np.sqrt(2), (1 - 1) / np.sqrt(2)])


def test_posteriors_match_scikit_learn(fitted):
    x, gmm = fitted
    np.testing.assert_allclose(gmm_posteriors(x[:100], gmm), gmm.predict_proba(x[:100]), atol=1e-12)
    p32 = gmm_posteriors(x[:100].astype(np.float32), gmm)
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, gmm.predict_proba(x[:100]), atol=1e-5)
    np.testing.assert_allclose(p32.sum(1), 1.0, atol=1e-6)


@pytest.mark.parametrize("improved", [False, True])
def test_matches_skimage_on_the_same_gmm(fitted, improved):
    x, gmm = fitted
    d = x[::7]
    ref = sk_fisher_vector(d, gmm, improved=improved)
    k, dim = gmm.means_.shape
    flip = np.r_[np.ones(k + k * dim), -np.ones(k * dim)]  # skimage's variance block is -G_sigma
    if improved:  # its sign flip commutes with the signed power law, and the L2 norm ignores it
        ours = fisher_vector(d, gmm, mixture_weights=True, power=0.5, l2=True)
    else:
        ours = fisher_vector(d, gmm, mixture_weights=True, power=None, l2=False)
    np.testing.assert_allclose(ours, ref * flip, rtol=1e-9, atol=1e-12)
    ours32 = fisher_vector(d.astype(np.float32), gmm, mixture_weights=True, power=None if not improved else 0.5, l2=improved)
    assert ours32.dtype == np.float32
    np.testing.assert_allclose(ours32, ref * flip, atol=2e-5)


def test_improved_is_power_then_l2(fitted):
    x, gmm = fitted
    raw = fisher_vector(x[:50], gmm, power=None, l2=False)
    v = np.sign(raw) * np.sqrt(np.abs(raw))
    np.testing.assert_allclose(fisher_vector(x[:50], gmm), v / np.linalg.norm(v), rtol=1e-10)
    assert raw.shape == (2 * 5 * 6,)


def test_dtype_rule(fitted):
    x, gmm = fitted
    for dt, want in [(np.float64, np.float64), (np.float32, np.float32), (np.float16, np.float32), (np.int64, np.float32)]:
        assert fisher_vector(x[:20].astype(dt), gmm).dtype == want


def test_empty_set_and_bad_inputs(fitted):
    x, gmm = fitted
    assert not fisher_vector(np.zeros((0, 6)), gmm).any()
    with pytest.raises(VisionkitError, match=r"expected shape \(M, 6\)"):
        fisher_vector(x[:, :4], gmm)
    bad = x[:5].copy()
    bad[2, 3] = np.nan
    with pytest.raises(VisionkitError, match="1 NaN or infinite"):
        fisher_vector(bad, gmm)
    full = GaussianMixture(2, covariance_type="full", random_state=0).fit(x)
    with pytest.raises(VisionkitError, match="covariance_type must be 'diag'"):
        fisher_vector(x, full)
    with pytest.raises(VisionkitError, match="fitted diagonal Gaussian mixture"):
        fisher_vector(x, object())


# ------------------------------------------------------------------------------ the GMM
@parametrize_with_checks([DiagonalGMM(n_modes=2, max_iter=10)])
def test_diagonal_gmm_sklearn_conformance(estimator, check):
    check(estimator)


def test_diagonal_gmm_recovers_two_gaussians():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal([0, 0], [1, 0.5], (3000, 2)), rng.normal([10, 5], [0.5, 2], (1000, 2))])
    g = DiagonalGMM(n_modes=2, max_iter=50, random_state=0).fit(x)
    order = np.argsort(g.means_[:, 0])
    np.testing.assert_allclose(g.weights_[order], [0.75, 0.25], atol=0.02)
    np.testing.assert_allclose(g.means_[order], [[0, 0], [10, 5]], atol=0.15)
    np.testing.assert_allclose(np.sqrt(g.covariances_[order]), [[1, 0.5], [0.5, 2]], rtol=0.06)
    assert g.converged_ and g.n_iter_ < 50
    np.testing.assert_allclose(g.predict_proba(x[:5]), gmm_posteriors(x[:5], g))


def test_diagonal_gmm_variance_floor_and_errors():
    x = np.r_[np.zeros((50, 3)), np.random.default_rng(0).normal(size=(50, 3))]  # half identical rows
    g = DiagonalGMM(n_modes=4, var_floor=1e-2, random_state=0).fit(x)
    assert (g.covariances_ >= 1e-2 * x.var(0) * (1 - 1e-5)).all() and np.isfinite(g.lower_bound_)
    with pytest.raises(VisionkitError, match="n_modes=8"):
        DiagonalGMM(n_modes=8).fit(x[:5])


# ------------------------------------------------------------------------------ the pyramid
def test_pyramid_levels_and_cells():
    assert pyramid_grid(2) == (2, 2) and pyramid_grid((3, 1)) == (3, 1)
    rel = np.array([[0.1, 0.9], [0.5, 0.2], [0.95, 0.5]])
    np.testing.assert_array_equal(pyramid_cells(rel, (3, 1)), [0, 1, 2])  # three horizontal bands
    np.testing.assert_array_equal(pyramid_cells(rel, (1, 2)), [1, 0, 1])
    for bad in (0, (2, 0), (1, 2, 3), "x", 1.5):
        with pytest.raises(VisionkitError, match="pyramid"):
            pyramid_grid(bad)


def test_each_cell_is_the_fisher_vector_of_its_descriptors(fitted):
    x, gmm = fitted
    rng = np.random.default_rng(1)
    d = x[rng.choice(len(x), 300, replace=False)]
    rel = rng.uniform(0, 1, (300, 2))
    levels = (1, 2, (3, 1))
    v = fisher_encode(d, rel, gmm, pyramid=levels, power=0.5, l2=True).reshape(8, -1)
    blocks = iter(v)
    for L in levels:
        cells = pyramid_cells(rel, L)
        for c in range(np.prod(pyramid_grid(L))):
            np.testing.assert_allclose(next(blocks), fisher_vector(d[cells == c], gmm) / np.sqrt(8), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(v), 1.0)


def test_empty_cells_and_images_are_zero(fitted):
    x, gmm = fitted
    rel = np.tile([[0.1, 0.1]], (10, 1))  # all in the top-left
    v = fisher_encode(x[:10], rel, gmm, pyramid=(1, 2)).reshape(5, -1)
    assert v[0].any() and v[1].any() and not v[2:].any()
    assert fisher_encode(np.zeros((0, 6)), np.zeros((0, 2)), gmm, pyramid=(1, 2)).shape == (5 * 60,)
    with pytest.raises(VisionkitError, match="relative_positions"):
        fisher_encode(x[:10], rel[:3], gmm)


# ------------------------------------------------------------------------------ the estimator
def _textures(n_per_class=6, size=48, seed=0):
    """Two classes that local gradients separate: vertical or horizontal stripes plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    imgs, labels = [], []
    for label in (0, 1):
        for _ in range(n_per_class):
            coord = xx if label == 0 else yy
            img = 128 + 100 * np.sin(2 * np.pi * coord / rng.uniform(5, 8) + rng.uniform(0, 6.3)) + rng.normal(0, 10, (size, size))
            imgs.append(np.clip(img, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(imgs), np.array(labels)


TINY = dict(descriptor_params={"step": 8, "patch_sizes": (16,)}, pca_dim=8, n_modes=4, pyramid=(1, 2), max_descriptors=400, gmm_max_iter=20)


@pytest.fixture(scope="module")
def textures():
    return _textures()


@pytest.mark.parametrize("encoding", ["fisher", "vlad"])
def test_fit_transform_separates_textures(textures, encoding):
    X, y = textures
    fv = FisherVectors(encoding=encoding, random_state=0, **TINY)
    assert fv.fit(X) is fv
    F = fv.transform(X)
    width = 2 * 4 * 10 if encoding == "fisher" else 4 * 10  # PCA 8 + (y, x)
    assert F.shape == (len(X), 5 * width) == (len(X), fv.n_features_out_) and F.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(F, axis=1), 1.0, rtol=1e-5)
    assert LinearSVC().fit(F, y).score(F, y) == 1.0


def test_deterministic_seeded_and_parallel_equals_serial(textures):
    X, _ = textures
    a = FisherVectors(random_state=3, **TINY).fit(X)
    b = FisherVectors(random_state=3, n_jobs=2, chunk_size=5, **TINY).fit(X)
    c = FisherVectors(random_state=4, **TINY).fit(X)
    np.testing.assert_array_equal(a.gmm_.means_, b.gmm_.means_)
    assert not np.array_equal(a.gmm_.means_, c.gmm_.means_)
    np.testing.assert_allclose(a.transform(X), b.transform(X), atol=1e-6)
    assert a.n_descriptors_fit_ == 12 * 25  # every descriptor: 5 x 5 per image, fewer than max_descriptors


def test_sklearn_contract(textures):
    X, _ = textures
    est = FisherVectors(random_state=0, **TINY)
    assert set(est.get_params()) >= {"descriptor", "n_modes", "pca_dim", "encoding", "pyramid", "random_state"}
    cl = clone(est)
    assert cl.get_params() == est.get_params() and not hasattr(cl, "gmm_")
    with pytest.raises(NotFittedError):
        est.transform(X)
    est.fit(X)
    learned = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
    assert {"pca_", "gmm_", "kmeans_", "n_descriptors_fit_", "n_features_out_", "timings_"} <= learned
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(X[:2]), est.transform(X[:2]))
    assert est.get_feature_names_out().shape == (est.n_features_out_,)
    with pytest.raises(TypeError):
        FisherVectors(8)  # keyword-only


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_check_estimator_skips_the_table_checks_by_tags():
    results = check_estimator(FisherVectors(**TINY), on_fail=None)
    assert [r["check_name"] for r in results if r["status"] == "failed"] == []
    assert [r["check_name"] for r in results if r["status"] == "passed"] == ["check_estimator_cloneable"]


def test_bad_parameters_and_inputs(textures):
    X, _ = textures
    for params, message in [
        ({"encoding": "sparse"}, "encoding"),
        ({"n_modes": 0}, "n_modes"),
        ({"pyramid": ()}, "at least one level"),
        ({"pyramid": ((2, 0),)}, "pyramid"),
        ({"descriptor": "surf"}, "descriptor"),
        ({"n_modes": 10_000}, "n_modes=10000"),
        ({"pca_dim": 200}, "pca_dim"),
    ]:
        with pytest.raises(VisionkitError, match=message):
            FisherVectors(**{**TINY, **params}).fit(X[:4])
    fv = FisherVectors(descriptor="patches", descriptor_params={"patch_size": 6, "stride": 3}, **{k: v for k, v in TINY.items() if k != "descriptor_params"})
    fv.fit(X)
    with pytest.raises(VisionkitError, match="channel counts"):
        fv.transform(np.zeros((1, 48, 48, 3), np.uint8))
