"""The registered classical methods (methods.py): protocol on tiny data (8x8 digits, grey and colour, mixed
sizes), MethodPipeline, kmeans-svm with mirrors and Lloyd k-means."""

import numpy as np
import pytest

from visionkit import registry
from visionkit.classical import BagOfVisualWords, MirrorAugmented, make_kmeans_svm

METHODS = ["pixels-svm", "hog-svm", "bovw-svm", "harris-bovw-svm", "kmeans-svm", "fisher-svm", "vlad-svm", "scattering-rbf"]

#: settings small enough for a test (the defaults are for the benchmark's real data sets)
TINY = {
    "pixels-svm": {"size": (16, 16)},
    "hog-svm": {"size": (16, 16), "pixels_per_cell": (4, 4), "extra_cells": ()},
    "bovw-svm": {"n_words": 24, "step": 8, "patch_sizes": (16,), "pyramid": (1, 2)},
    "harris-bovw-svm": {"n_words": 24, "patch_sizes": (16,), "pyramid": (1, 2)},
    "kmeans-svm": {"n_words": 32, "size": (12, 12), "max_descriptors": 5000},
    "fisher-svm": {"n_modes": 8, "pca_dim": 16, "step": 4, "patch_sizes": (16,), "pyramid": (1, 2), "max_descriptors": 5000},
    "vlad-svm": {"n_modes": 8, "pca_dim": 16, "step": 4, "patch_sizes": (16,), "pyramid": (1, 2), "max_descriptors": 5000},
    "scattering-rbf": {"size": (16, 16), "n_axes": 64, "n_landmarks": 200, "alpha": 0.1},
}


def test_all_registered():
    names = registry.list_methods("classical")
    assert set(METHODS) <= set(names)
    for n in METHODS:
        assert registry.get_spec(n).family == "classical" and registry.get_spec(n).description


@pytest.mark.parametrize("name", METHODS)
def test_method_protocol_on_digits(digits, name):
    Xtr, ytr, Xte, yte = digits
    assert Xtr.dtype == np.uint8 and Xtr.shape[1:] == (8, 8, 1)
    m = registry.create(name, **TINY[name])
    assert m.fit(Xtr, ytr) is m
    pred = m.predict(Xte)
    assert pred.shape == (len(Xte),) and set(pred) <= set(ytr)
    acc = float(np.mean(pred == yte))
    assert acc > 0.6, f"{name}: {acc:.2f} on 10-class digits (chance 0.1)"
    feats = m.transform(Xte[:5])
    assert feats.ndim == 2 and feats.shape[0] == 5 and np.isfinite(feats).all()
    # colour input of another size works too (converted and resized inside)
    colour = np.repeat(np.kron(Xte[:4], np.ones((1, 2, 2, 1), np.uint8)), 3, axis=3)
    assert m.predict(colour).shape == (4,)


def test_mixed_sizes_and_channels_through_a_method(digits):
    Xtr, ytr, Xte, _ = digits
    m = registry.create("bovw-svm", **TINY["bovw-svm"]).fit(Xtr, ytr)
    mixed = [Xte[0], np.repeat(Xte[1], 3, axis=2), np.kron(Xte[2, ..., 0], np.ones((3, 2), np.uint8))]
    assert m.predict(mixed).shape == (3,)


def test_methods_are_deterministic(digits):
    Xtr, ytr, Xte, _ = digits
    a = registry.create("kmeans-svm", **TINY["kmeans-svm"]).fit(Xtr, ytr).transform(Xte[:10])
    b = registry.create("kmeans-svm", **TINY["kmeans-svm"]).fit(Xtr, ytr).transform(Xte[:10])
    np.testing.assert_array_equal(a, b)


def test_method_pipeline_transform_is_every_step_but_the_classifier():
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from visionkit.classical import LinearSVM, MethodPipeline

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5)), np.repeat([0, 1], 20)
    pipe = MethodPipeline([("double", FunctionTransformer(lambda a: 2 * a)), ("skip", "passthrough"),
                           ("scale", StandardScaler()), ("svm", LinearSVM())]).fit(X, y)
    np.testing.assert_allclose(pipe.transform(X), pipe.named_steps["scale"].transform(2 * X))


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


def test_scattering_svm_rbf_kernel_option():
    """kernel="rbf": a Nystroem map of the Gaussian kernel between the scaler and the SVM, seeded."""
    from visionkit import VisionkitError
    from visionkit.classical.methods import make_scattering_svm

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    X[20:, :, :8] = 255  # class 1: a bright left half
    y = np.repeat([0, 1], 20)
    pipe = make_scattering_svm(kernel="rbf", n_components=30, C=1.0, size=(16, 16), random_state=3)
    assert [name for name, _ in pipe.steps] == ["scattering", "scale", "rbf", "svm"]
    pipe.fit(X, y)
    assert pipe.named_steps["rbf"].n_components == 30 and pipe.score(X, y) == 1.0
    again = make_scattering_svm(kernel="rbf", n_components=30, C=1.0, size=(16, 16), random_state=3).fit(X, y)
    np.testing.assert_array_equal(again.decision_function(X), pipe.decision_function(X))
    with pytest.raises(VisionkitError, match="'linear' or 'rbf'"):
        make_scattering_svm(kernel="poly")


def test_kmeans_svm_power_is_the_square_root_of_the_pooled_codes(digits):
    """power=0.5 square-roots each pooled triangle code (non-negative) before the standardisation; the words
    are the same (the power law comes after the vocabulary)."""
    from sklearn.pipeline import Pipeline

    from visionkit import VisionkitError

    Xtr, ytr, Xte, _ = digits
    tiny = {"n_words": 16, "size": (12, 12), "max_descriptors": 3000, "random_state": 1}
    plain = Pipeline(make_kmeans_svm(**tiny).steps[:2]).fit(Xtr)
    rooted = Pipeline(make_kmeans_svm(power=0.5, **tiny).steps[:2]).fit(Xtr)
    a, b = plain.transform(Xte[:20]), rooted.transform(Xte[:20])
    assert a.min() >= 0 and (a > 0).mean() > 0.5
    np.testing.assert_allclose(b, np.sqrt(a), rtol=1e-5, atol=1e-7)
    m = make_kmeans_svm(power=0.5, **tiny).fit(Xtr, ytr)
    assert m.transform(Xte[:5]).shape == (5, 4 * 16)
    with pytest.raises(VisionkitError, match="power"):
        make_kmeans_svm(power=-1.0, **tiny).fit(Xtr, ytr)
