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
    np.testing.assert_allclose(b.decision_function(X), a.decision_function(X), atol=2e-3)
    np.testing.assert_allclose(b.coef_, a.coef_, atol=2e-3)


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
