"""Handcrafted features and the classifiers that use them, one file per operator.

================  ===================================================================================
module            what it holds
================  ===================================================================================
filters           Sobel (numpy on cv2) and its torch twins ``sobel_torch``, ``Sobel``
corners           Harris response, peaks and corners, and the torch twin ``HarrisResponse``
sift              dense and Harris SIFT, ``LocalFeatures``
hog               HOG, ``hog_batch`` and the ``HOGFeatures`` transformer
patches           Coates et al.'s normalised raw patches and ``ZCAWhitening``
bovw              bag of visual words: vocabulary, encodings, ``BagOfVisualWords``
svm               ``LinearSVM``, ``Chi2SVC`` and the Hellinger map ``PowerNormalizer``
preprocessing     harness images to one form, pixels, the chunked scaler, mirroring
fisher            Fisher vectors, VLAD and the diagonal GMM
scattering        the 2-D scattering transform and ``ScatteringFeatures``
stacking          ``ReducedFeatures`` (PCA chunk by chunk) and ``FeatureStack`` (blocks side by side)
methods           the registered harness methods (``pixels-svm``, ``hog-svm``, ...)
================  ===================================================================================

Import from the package: ``from visionkit.classical import hog, BagOfVisualWords``. Sobel, Harris
and SIFT load with it; the rest (scikit-learn, torch) on first use. A new module adds its public
names to ``_LAZY_MODULES`` (``tests/test_package_api.py`` checks that every one is there).
"""

import importlib
import sys
import types

from .corners import HarrisSteps, corner_peaks, harris_corners, harris_response, harris_steps
from .filters import sobel, sobel_gradients, sobel_orientation
from .sift import LocalFeatures, dense_keypoints, dense_sift, dsift, harris_sift, sift_at

#: Names loaded on first use, by module: scikit-learn takes 1 to 2 s to import and torch 1 to 6 s,
#: where ``import visionkit`` (Sobel, Harris, SIFT) takes 0.4 s.
_LAZY_MODULES = {
    "filters": ("sobel_gradients_torch", "sobel_torch", "SobelGradients", "Sobel"),
    "corners": ("harris_response_torch", "HarrisResponse"),
    "hog": ("hog", "hog_batch", "HOGFeatures"),
    "patches": ("extract_patches", "normalize_patches", "normalized_patches", "ZCAWhitening"),
    "bovw": ("BagOfVisualWords", "encode", "assign_words", "triangle_codes", "pyramid_cells", "pyramid_grid", "check_pyramid",
             "ENCODINGS", "DESCRIPTORS"),
    "svm": ("LinearSVM", "Chi2SVC", "PowerNormalizer", "ChunkedAdditiveChi2Sampler", "RBFNystroem", "rbf_kernel_f32",
            "nystroem_normalization", "nystroem_map", "RBFRidgeClassifier", "rbf_ridge_coefs"),
    "preprocessing": ("as_image_list", "transform_in_chunks", "STREAM_CHUNK", "prepare_images", "ImagePreprocessor", "PixelFeatures", "ChunkedStandardScaler",
                      "mirror_images", "shift_images", "augmented_views", "MirrorAugmented"),
    "fisher": ("DiagonalGMM", "gmm_posteriors", "fisher_vector", "fisher_encode", "FisherVectors"),
    "scattering": ("gabor_2d", "morlet_2d", "scattering_filter_bank", "scattering_padding", "scattering_channels", "scattering_batch", "SCATTERING_BATCH_BYTES", "scattering_paths", "scattering2d", "Scattering2D", "ScatteringFeatures", "rgb_to_yuv"),
    "stacking": ("principal_axes", "column_moments", "block_factor", "ReducedFeatures", "FeatureStack"),
    "methods": ("MethodPipeline", "make_pixels_svm", "make_hog_svm", "make_bovw_svm", "make_harris_bovw_svm",
                "make_kmeans_svm", "make_scattering_svm", "make_scattering_rbf", "make_fisher_svm", "make_kmeans_scattering_svm"),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

__all__ = [
    "sobel_gradients", "sobel", "sobel_orientation", "HarrisSteps", "harris_steps", "harris_response", "corner_peaks",
    "harris_corners", "LocalFeatures", "dense_keypoints", "sift_at", "dense_sift", "dsift", "harris_sift",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    """This package, whose ``hog`` stays the function when the submodule ``hog`` loads.

    Loading ``visionkit.classical.hog`` sets the package's attribute ``hog`` to the module (Python
    does that for every submodule); the function of the same name would then be hidden.
    """

    def __setattr__(self, name: str, value) -> None:
        if name == "hog" and isinstance(value, types.ModuleType):
            value = value.hog
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
