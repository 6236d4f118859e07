"""The classifiers (svm.py): LinearSVM against liblinear, a class with one image, the kernel solver."""


import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from visionkit.classical import BagOfVisualWords, LinearSVM


def test_linear_svm_agrees_with_liblinear_and_needs_two_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20))
    y = (X[:, :3] @ [1.0, -2.0, 0.5] > 0).astype(int) + (X[:, 3] > 1)
    ours = LinearSVM(C=0.1).fit(X, y)
    ref = LinearSVC(C=0.1, loss="squared_hinge").fit(X, y)
    assert np.mean(ours.predict(X) == ref.predict(X)) > 0.97
    with pytest.raises(ValueError, match="1 class"):
        LinearSVM().fit(X, np.zeros(300))


def test_class_with_one_image(textures):
    X, y = textures
    X1 = np.concatenate([X, X[:1] // 2])
    y1 = np.r_[y, 2]  # class 2 has a single image: documented to work (one-vs-rest needs no pairs)
    pipe = Pipeline([("bovw", BagOfVisualWords(descriptor_params={"step": 8, "patch_sizes": (16,)}, n_words=8, random_state=0)), ("svm", LinearSVM(max_iter=100))])
    pipe.fit(X1, y1)
    assert set(pipe.predict(X1)) <= {0, 1, 2}
    assert pipe.named_steps["svm"].coef_.shape[0] == 3


def test_linear_svm_kernel_solver_matches_primal():
    """W = X^T U S^(-1/2) v on the empirical kernel map: same objective as the primal, d >> n."""
    rng = np.random.default_rng(1)
    X = rng.random((60, 400)).astype(np.float64)
    y = rng.integers(0, 3, 60)
    a = LinearSVM(solver="primal", tol=1e-9, max_iter=5000).fit(X, y)
    b = LinearSVM(solver="kernel", tol=1e-9, max_iter=5000).fit(X, y)
    assert b.solver_ == "kernel" and LinearSVM().fit(X, y).solver_ == "kernel"

    def objective(m):
        Y = np.where(y[:, None] == m.classes_[None, :], 1.0, -1.0)
        margins = np.maximum(0, 1 - Y * m.decision_function(X))
        return 0.5 * (m.coef_**2).sum() + 1.0 * (margins**2).sum()

    # the same minimum; the minimiser is nearly flat along some directions (n = 60 < d = 400), so
    # L-BFGS stops a few 1e-3 apart there, whatever the BLAS (the objectives agree to 1e-7)
    assert objective(b) == pytest.approx(objective(a), rel=1e-6)
    np.testing.assert_allclose(b.decision_function(X), a.decision_function(X), atol=5e-3)
    np.testing.assert_allclose(b.coef_, a.coef_, atol=5e-3)


# --- RBFNystroem: the Gaussian kernel's approximate feature map -------------------------------------

def test_rbf_kernel_f32_known_values():
    from visionkit.classical.svm import rbf_kernel_f32

    X = np.array([[0.0, 0.0], [3.0, 4.0]], np.float32)
    K = rbf_kernel_f32(X, X, 0.02)  # ||x - y||^2 = 25
    assert K.dtype == np.float32
    np.testing.assert_allclose(K, [[1.0, np.exp(-0.5)], [np.exp(-0.5), 1.0]], rtol=1e-6)


def test_rbf_nystroem_matches_sklearn_nystroem():
    from sklearn.kernel_approximation import Nystroem

    from visionkit.classical.svm import RBFNystroem

    X = np.random.default_rng(0).normal(size=(300, 7))
    for dtype in (np.float32, np.float64):
        a = RBFNystroem(n_components=60, gamma=0.1, random_state=3, batch_size=64).fit(X.astype(dtype))
        b = Nystroem(n_components=60, gamma=0.1, random_state=3).fit(X)
        np.testing.assert_array_equal(a.component_indices_, b.component_indices_)
        za = a.transform(X.astype(dtype))
        assert za.dtype == dtype
        np.testing.assert_allclose(za, b.transform(X), atol=1e-4 if dtype == np.float32 else 1e-10)


def test_rbf_nystroem_is_exact_on_its_landmarks_and_scale_is_svc_scale():
    from visionkit.classical.svm import RBFNystroem, rbf_kernel_f32

    X = np.random.default_rng(1).normal(size=(80, 5)) * 3
    m = RBFNystroem(n_components=80, random_state=0).fit(X)  # every row a landmark: the kernel exactly
    assert m.gamma_ == pytest.approx(1.0 / (5 * X.var()))
    Z = m.transform(X)
    np.testing.assert_allclose(Z @ Z.T, rbf_kernel_f32(X, X, m.gamma_), atol=1e-8)
    # same seed, same landmarks; another seed, others
    assert np.array_equal(RBFNystroem(n_components=20, random_state=4).fit(X).landmarks_,
                          RBFNystroem(n_components=20, random_state=4).fit(X).landmarks_)
    assert not np.array_equal(RBFNystroem(n_components=20, random_state=4).fit(X).landmarks_,
                              RBFNystroem(n_components=20, random_state=5).fit(X).landmarks_)


def test_rbf_nystroem_then_linear_svm_separates_rings():
    """Two concentric rings: no line separates them, the Gaussian kernel's map does."""
    from visionkit.classical.svm import RBFNystroem

    rng = np.random.default_rng(0)
    t = rng.uniform(0, 2 * np.pi, 400)
    r = np.where(np.arange(400) < 200, 1.0, 3.0) + rng.normal(0, 0.1, 400)
    X = np.c_[r * np.cos(t), r * np.sin(t)].astype(np.float32)
    y = (np.arange(400) >= 200).astype(int)
    assert LinearSVM(C=1.0).fit(X, y).score(X, y) < 0.75
    Z = RBFNystroem(n_components=100, gamma=0.5, random_state=0).fit_transform(X)
    assert LinearSVM(C=10.0).fit(Z, y).score(Z, y) > 0.98


def test_rbf_nystroem_more_landmarks_than_rows_is_the_exact_kernel():
    from sklearn.metrics.pairwise import rbf_kernel

    from visionkit.classical.svm import RBFNystroem

    X = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="more than the 10 training rows"):
        Z = RBFNystroem(n_components=50, gamma=0.3, random_state=0).fit_transform(X)
    assert Z.shape == (10, 10)
    np.testing.assert_allclose(Z @ Z.T, rbf_kernel(X, gamma=0.3), atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, X, match",
    [
        ({"n_components": 0}, np.zeros((10, 3)), "n_components"),
        ({"n_components": 5, "gamma": "auto"}, np.zeros((10, 3)), "'scale'"),
        ({"n_components": 5, "gamma": -1.0}, np.zeros((10, 3)), "gamma"),
    ],
)
def test_rbf_nystroem_bad_inputs(kwargs, X, match):
    from visionkit._validate import VisionkitError
    from visionkit.classical.svm import RBFNystroem

    with pytest.raises(VisionkitError, match=match):
        RBFNystroem(**kwargs).fit(X)


def test_rbf_nystroem_wrong_width_at_transform():
    from visionkit.classical.svm import RBFNystroem

    m = RBFNystroem(n_components=5, random_state=0).fit(np.random.default_rng(0).normal(size=(10, 3)))
    with pytest.raises(ValueError, match="3 features"):
        m.transform(np.zeros((2, 4)))


# --- RBFRidgeClassifier: Gaussian kernel ridge on a Nystroem subset of regressors ---------------------

def test_rbf_ridge_with_every_row_a_landmark_is_sklearn_kernel_ridge():
    from sklearn.kernel_ridge import KernelRidge

    from visionkit.classical.svm import RBFRidgeClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = rng.integers(0, 3, 120)
    Y = np.where(y[:, None] == np.arange(3), 1.0, -1.0)
    for dtype in (np.float32, np.float64):
        with pytest.warns(UserWarning, match="more than the 120 training rows"):
            ours = RBFRidgeClassifier(alpha=0.5, n_components=500, gamma=0.05, jitter=1e-9,
                                      random_state=0).fit(X.astype(dtype), y)
        ref = KernelRidge(alpha=0.5, kernel="rbf", gamma=0.05).fit(X, Y)
        T = rng.normal(size=(40, 6))
        np.testing.assert_allclose(ours.decision_function(T.astype(dtype)), ref.predict(T), atol=2e-4)
        np.testing.assert_array_equal(ours.predict(T.astype(dtype)), ref.predict(T).argmax(1))


def test_rbf_ridge_coefs_many_alphas_in_one_pass_and_blocks_do_not_matter():
    from visionkit.classical.svm import rbf_ridge_coefs

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    Y = np.sign(rng.normal(size=(300, 2))).astype(np.float32)
    L = X[:50]
    a = rbf_ridge_coefs(X, Y, L, 0.2, [0.1, 1.0], batch_size=7)
    b = rbf_ridge_coefs(X, Y, L, 0.2, [1.0], batch_size=300)
    np.testing.assert_allclose(a[1], b[0], rtol=1e-4, atol=1e-4)
    assert not np.allclose(a[0], a[1])
    # the normal equations of the subset of regressors: (K_XL^T K_XL + alpha K_LL) c = K_XL^T Y
    from sklearn.metrics.pairwise import rbf_kernel
    K, Kll = rbf_kernel(X, L, gamma=0.2), rbf_kernel(L, L, gamma=0.2) + 1e-4 * np.eye(50)
    lhs = (K.T @ K + 1.0 * Kll) @ b[0]
    np.testing.assert_allclose(lhs, K.T @ Y, rtol=1e-3, atol=1e-3 * np.abs(K.T @ Y).max())


def test_rbf_ridge_coefs_over_many_row_blocks_solves_the_normal_equations():
    # more landmarks than one block of Z^T Z (1,024 rows), the last block partial; the factor goes
    # through the temporary file and back
    from sklearn.metrics.pairwise import rbf_kernel

    from visionkit.classical.svm import rbf_ridge_coefs

    rng = np.random.default_rng(2)
    X = rng.normal(size=(2600, 30)).astype(np.float32)  # 30-D: a well-conditioned kernel, so any error shows
    Y = np.sign(rng.normal(size=(2600, 2))).astype(np.float32)
    L = X[::2][:1100]  # 1,100 landmarks: blocks of 1,024 and 76 rows
    (c,) = rbf_ridge_coefs(X, Y, L, 1 / 30, [1.0], batch_size=1000)
    K = rbf_kernel(X.astype(np.float64), L.astype(np.float64), gamma=1 / 30)
    Kll = rbf_kernel(L.astype(np.float64), L.astype(np.float64), gamma=1 / 30) + 1e-4 * np.eye(len(L))
    lhs = (K.T @ K + 1.0 * Kll) @ c
    # float32 kernels leave ~1e-5; scaling the second block of Z^T Z by 1.001 gives 1e-4
    np.testing.assert_allclose(lhs, K.T @ Y, rtol=0, atol=5e-5 * np.abs(K.T @ Y).max())


def test_rbf_ridge_separates_rings_binary_and_seeds():
    from visionkit.classical.svm import RBFRidgeClassifier

    rng = np.random.default_rng(0)
    t = rng.uniform(0, 2 * np.pi, 400)
    r = np.where(np.arange(400) < 200, 1.0, 3.0) + rng.normal(0, 0.1, 400)
    X = np.c_[r * np.cos(t), r * np.sin(t)].astype(np.float32)
    y = np.where(np.arange(400) >= 200, "outer", "inner")
    clf = RBFRidgeClassifier(alpha=0.1, n_components=60, random_state=0).fit(X, y)
    assert clf.decision_function(X).shape == (400,)  # one column for two classes, as RidgeClassifier
    assert clf.score(X, y) > 0.98
    assert clf.gamma_ == pytest.approx(1.0 / (2 * X.var(axis=0).sum()), rel=1e-5)  # "mean": 1 / mean squared distance
    same = RBFRidgeClassifier(alpha=0.1, n_components=60, random_state=0).fit(X, y)
    other = RBFRidgeClassifier(alpha=0.1, n_components=60, random_state=1).fit(X, y)
    np.testing.assert_array_equal(clf.dual_coef_, same.dual_coef_)
    assert not np.array_equal(clf.component_indices_, other.component_indices_)
    scale = RBFRidgeClassifier(n_components=10, gamma="scale", random_state=0).fit(X, y)
    assert scale.gamma_ == pytest.approx(1.0 / (2 * X.var()), rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_components": 0}, "n_components"),
        ({"alpha": 0.0}, "alpha"),
        ({"gamma": "auto"}, "'mean' or 'scale'"),
        ({"gamma": -1.0}, "gamma"),
        ({"jitter": -1.0}, "jitter"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_rbf_ridge_bad_inputs(kwargs, match):
    from visionkit._validate import VisionkitError
    from visionkit.classical.svm import RBFRidgeClassifier

    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(VisionkitError, match=match):
        RBFRidgeClassifier(**{"n_components": 5, **kwargs}).fit(X, np.arange(10) % 2)
    with pytest.raises(VisionkitError, match="1 class"):
        RBFRidgeClassifier(n_components=5).fit(X, np.zeros(10))


def test_rbf_ridge_jitter_too_small_for_duplicate_landmarks_says_so():
    from visionkit._validate import VisionkitError
    from visionkit.classical.svm import RBFRidgeClassifier

    X = np.repeat(np.random.default_rng(0).normal(size=(5, 3)), 4, axis=0)  # every row four times
    with pytest.raises(VisionkitError, match="not positive definite"):
        RBFRidgeClassifier(n_components=20, jitter=1e-300, random_state=0).fit(X, np.arange(20) % 2)
    RBFRidgeClassifier(n_components=20, random_state=0).fit(X, np.arange(20) % 2)  # the default jitter copes


def test_chunked_chi2_map_is_scikit_learns_to_the_last_bit():
    from sklearn.kernel_approximation import AdditiveChi2Sampler

    from visionkit.classical import ChunkedAdditiveChi2Sampler

    rng = np.random.default_rng(0)
    X = rng.random((103, 11)).astype(np.float32)
    X[X < 0.2] = 0  # zeros take the map's other branch
    for steps in (1, 2, 3):
        want = AdditiveChi2Sampler(sample_steps=steps).fit(X).transform(X)
        got = ChunkedAdditiveChi2Sampler(sample_steps=steps, chunk_size=10).fit(X).transform(X)
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="[Nn]egative"):
        ChunkedAdditiveChi2Sampler(chunk_size=10).fit(X).transform(-X)
