"""Bag of visual words: a k-means dictionary of local descriptors, and one vector of words per image.

The course's "Images -- Mots -- Dictionnaire": local descriptors of every image
(:mod:`~visionkit.classical.sift`, :mod:`~visionkit.classical.patches`), a vocabulary of ``n_words`` visual words learnt by k-means
on a seeded sample of them, then each image described by how its descriptors fall on the words.

Encodings (:func:`encode`)
--------------------------
``"hard"``
    Each descriptor votes for its nearest word: a histogram of counts (Sivic & Zisserman 2003,
    Csurka et al. 2004).
``"triangle"``
    Coates, Lee & Ng (2011)'s soft "triangle" code: with ``z_k = ||x - c_k||`` and ``mu`` the mean
    of the ``z_k``, ``f_k = max(0, mu - z_k)``: about half the words get a graded vote.
``"vlad"``
    Jegou et al. (2010): for each word, the sum of the residuals ``x - c_k`` of the descriptors
    assigned to it (``n_words * D`` numbers per cell), each word's block L2-normalised
    ("intra-normalisation", Arandjelovic & Zisserman 2013).

Pooling and normalisation
-------------------------
The codes are summed over each cell of a spatial pyramid (Lazebnik, Schmid & Ponce 2006: levels
``(1, 2, 4)`` give 1 + 4 + 16 = 21 cells) and divided by the image's number of descriptors, so
each pyramid level sums to 1 for hard counts whatever the image size. Then, in order: the power
law ``sign(v) |v| ** power`` (``power=0.5`` on L1-normalised counts is the Hellinger map,
explicit for a linear SVM) and an L2 normalisation of the whole vector.

An image with no descriptors (a blank image under Harris) is encoded as all zeros.
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import Any, Callable, Literal, Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._validate import VisionkitError, check_positive, describe
from .._progress import stage
from ._parallel import map_chunks
from .patches import ZCAWhitening, normalized_patches
from .preprocessing import _ImageInput, as_image_list
from .sift import LocalFeatures, dense_sift, dsift, harris_sift

__all__ = ["BagOfVisualWords", "encode", "assign_words", "triangle_codes", "ENCODINGS", "DESCRIPTORS", "pyramid_cells",
           "pyramid_grid", "check_pyramid"]

ENCODINGS = ("hard", "triangle", "vlad")

#: The local descriptors a bag of visual words can use, by name.
DESCRIPTORS: dict[str, Callable[..., LocalFeatures]] = {
    "dense-sift": dense_sift,
    "dsift": dsift,
    "harris-sift": harris_sift,
    "patches": normalized_patches,
}


def _descriptor_fn(descriptor: str | Callable[..., LocalFeatures]) -> Callable[..., LocalFeatures]:
    if callable(descriptor):
        return descriptor
    if descriptor not in DESCRIPTORS:
        raise VisionkitError(f"descriptor: expected one of {sorted(DESCRIPTORS)} or a callable, got {descriptor!r}")
    return DESCRIPTORS[descriptor]


def _sq_distances(x: np.ndarray, vocabulary: np.ndarray, vocab_sq: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances (M, K) by one matrix product (float32), clipped at 0."""
    if vocab_sq is None:
        vocab_sq = np.einsum("kd,kd->k", vocabulary, vocabulary)
    d = x @ vocabulary.T
    d *= -2.0
    d += vocab_sq[None, :]
    d += np.einsum("md,md->m", x, x)[:, None]
    np.maximum(d, 0.0, out=d)
    return d


def assign_words(descriptors: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
    """Index of the nearest word (squared Euclidean distance) for each descriptor.

    Parameters
    ----------
    descriptors : ndarray, shape (M, D)
    vocabulary : ndarray, shape (K, D)

    Returns
    -------
    ndarray of int64, shape (M,)
    """
    x = np.asarray(descriptors, dtype=np.float32)
    v = np.asarray(vocabulary, dtype=np.float32)
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    return _sq_distances(x, v).argmin(axis=1)


def triangle_codes(descriptors: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
    """Coates et al. (2011)'s triangle code ``f_k = max(0, mean_j(z_j) - z_k)``, ``z_k = ||x - c_k||``.

    Parameters
    ----------
    descriptors : ndarray, shape (M, D)
    vocabulary : ndarray, shape (K, D)

    Returns
    -------
    ndarray of float32, shape (M, K)
        Non-negative; about half the entries of each row are zero.
    """
    x = np.asarray(descriptors, dtype=np.float32)
    v = np.asarray(vocabulary, dtype=np.float32)
    z = _sq_distances(x, v)
    np.sqrt(z, out=z)
    mu = z.mean(axis=1, keepdims=True)
    np.subtract(mu, z, out=z)
    np.maximum(z, 0.0, out=z)
    return z


def pyramid_grid(level: int | Sequence[int]) -> tuple[int, int]:
    """``(rows, cols)`` of one pyramid level: ``L`` is an ``L x L`` grid, ``(3, 1)`` three horizontal bands.

    Raises
    ------
    VisionkitError
        If the level is not a positive int or a pair of them.
    """
    try:
        if isinstance(level, (int, np.integer)) and not isinstance(level, bool):
            side = check_positive(level, "pyramid", integer=True)
            return side, side
        rows, cols = (check_positive(v, "pyramid", integer=True) for v in level)
        return rows, cols
    except (TypeError, ValueError):
        raise VisionkitError(
            f"pyramid: expected each level to be an int L (an L x L grid) or a pair (rows, cols), got {describe(level)}"
        ) from None


def check_pyramid(pyramid: Any) -> tuple[tuple[int, int], ...]:
    """The levels of a spatial pyramid as ``(rows, cols)`` pairs; at least one level."""
    try:
        levels = tuple(pyramid_grid(L) for L in pyramid)
    except TypeError:
        raise VisionkitError(f"pyramid: expected a tuple of levels such as (1, 2, 4) or (1, 2, (3, 1)), got {describe(pyramid)}") from None
    if not levels:
        raise VisionkitError("pyramid: expected at least one level, got ()")
    return levels


def pyramid_cells(relative_positions: np.ndarray, level: int | Sequence[int]) -> np.ndarray:
    """Cell index ``row * cols + col`` of each point in one pyramid level's grid over the image.

    Parameters
    ----------
    relative_positions : ndarray, shape (M, 2)
        ``(row, col)`` divided by ``(H, W)``, in [0, 1).
    level : int or (rows, cols)
        ``L`` for an ``L x L`` grid (Lazebnik et al.), or a pair such as ``(3, 1)``: three
        horizontal bands (Chatfield et al. 2011's 3 x 1 level).

    Returns
    -------
    ndarray of int64, shape (M,)
    """
    rows, cols = pyramid_grid(level)
    rel = np.asarray(relative_positions)
    r = np.clip(np.floor(rel[:, 0] * rows).astype(np.int64), 0, rows - 1)
    c = np.clip(np.floor(rel[:, 1] * cols).astype(np.int64), 0, cols - 1)
    return r * cols + c


def encode(
    features: LocalFeatures,
    vocabulary: np.ndarray,
    *,
    encoding: Literal["hard", "triangle", "vlad"] = "hard",
    pyramid: Sequence[int | tuple[int, int]] = (1,),
    power: float | None = 0.5,
    l2: bool = True,
) -> np.ndarray:
    """One image's vector of visual words: encode each descriptor, pool over pyramid cells, normalise.

    Parameters
    ----------
    features : LocalFeatures
        The image's descriptors (M, D) and positions (already whitened if the vocabulary was).
    vocabulary : ndarray, shape (K, D)
    encoding : {"hard", "triangle", "vlad"}
        See the module docstring.
    pyramid : sequence of int or (rows, cols)
        The spatial pyramid's levels, e.g. ``(1, 2, 4)``; ``(2,)`` is Coates' four quadrants,
        ``(1, 2, (3, 1))`` Chatfield et al.'s 1 + 4 + 3 cells.
    power : float or None
        Exponent of the signed power law applied after pooling (0.5: Hellinger / square root).
    l2 : bool
        L2-normalise the whole vector at the end.

    Returns
    -------
    ndarray of float32, shape (n_cells * K,) (times D for VLAD), ``n_cells`` summed over the levels
        All zeros for an image without descriptors.
    """
    vocab = np.asarray(vocabulary, dtype=np.float32)
    k, d = vocab.shape
    x = np.asarray(features.descriptors, dtype=np.float32)
    if x.ndim != 2 or (len(x) and x.shape[1] != d):
        raise VisionkitError(
            f"descriptors: expected shape (M, {d}) to match the vocabulary, got {x.shape}; "
            "images with other channel counts give other patch lengths: convert them all to grey or RGB"
        )
    width = k * d if encoding == "vlad" else k
    pyramid = check_pyramid(pyramid)
    n_cells = sum(r * c for r, c in pyramid)
    if len(x) == 0:
        return np.zeros(n_cells * width, dtype=np.float32)
    rel = features.relative_positions
    m = len(x)
    parts = []
    if encoding == "hard":
        words = assign_words(x, vocab)
        for L in pyramid:
            idx = pyramid_cells(rel, L) * k + words
            parts.append(np.bincount(idx, minlength=L[0] * L[1] * k).astype(np.float32) / m)
    elif encoding == "triangle":
        codes = triangle_codes(x, vocab)
        for L in pyramid:
            cells = pyramid_cells(rel, L)
            onehot = sparse.csr_matrix((np.ones(m, np.float32), (cells, np.arange(m))), shape=(L[0] * L[1], m))
            parts.append(np.asarray(onehot @ codes).ravel() / m)
    elif encoding == "vlad":
        words = assign_words(x, vocab)
        for L in pyramid:
            rows = pyramid_cells(rel, L) * k + words
            s = sparse.csr_matrix((np.ones(m, np.float32), (rows, np.arange(m))), shape=(L[0] * L[1] * k, m))
            counts = np.asarray(s.sum(axis=1)).ravel()
            resid = np.asarray(s @ x) - counts[:, None] * np.tile(vocab, (L[0] * L[1], 1))
            norms = np.linalg.norm(resid, axis=1, keepdims=True)
            resid = resid / np.maximum(norms, 1e-12)  # intra-normalisation
            parts.append(resid.ravel().astype(np.float32) / len(pyramid))
    else:
        raise VisionkitError(f"encoding: expected one of {ENCODINGS}, got {encoding!r}")
    v = np.concatenate(parts).astype(np.float32)
    if power is not None:
        v = np.sign(v) * np.abs(v) ** np.float32(power)
    if l2:
        v /= max(float(np.linalg.norm(v)), 1e-12)
    return v


def _encode_chunk(feats: list[LocalFeatures], _chunk: int, *, vocabulary, whitener, encoding, pyramid, power, l2) -> np.ndarray:
    out = []
    for f in feats:
        if whitener is not None and len(f):
            f = LocalFeatures(whitener.transform(f.descriptors), f.positions, f.sizes, f.shape)
        out.append(encode(f, vocabulary, encoding=encoding, pyramid=pyramid, power=power, l2=l2))
    return np.stack(out)


def _sample_chunk(feats: list[LocalFeatures], chunk: int, *, per_image: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, chunk])
    out = []
    for f in feats:
        if len(f) > per_image:
            out.append(f.descriptors[rng.choice(len(f), per_image, replace=False)])
        elif len(f):
            out.append(f.descriptors)
    if not out:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(out).astype(np.float32)


def _describe_chunk(chunk: list, index: int, *, fn: Callable, params: dict, post: Callable) -> tuple[Any, float, float]:
    """``post(descriptors of the chunk's images, index)``, with the seconds spent in each of the two."""
    t0 = time.perf_counter()
    feats = [fn(im, **params) for im in chunk]
    t1 = time.perf_counter()
    out = post(feats, index)
    return out, t1 - t0, time.perf_counter() - t1


def _run_chunks(
    fn: Callable,
    imgs: list,
    params: dict,
    post: Callable,
    n_jobs: int | None,
    chunk_size: int,
    timings: dict | None = None,
    consume: Callable[[int, Any], None] | None = None,
    desc: str | None = None,
) -> list:
    """Run ``post(descriptors of a chunk, chunk index)`` over chunks of images, in parallel (:func:`map_chunks`).

    ``timings`` (if given) receives the seconds spent in the descriptor and in ``post``, summed over
    the workers (CPU-seconds of work, not wall time). With ``consume``, each chunk's result is
    handed to ``consume(chunk index, result)`` as it arrives and not kept (the list returned is
    then empty): the caller can write it straight into a preallocated array.
    """
    kept, spent = [], [0.0, 0.0]

    def take(i: int, result: tuple[Any, float, float]) -> None:
        out, spent_desc, spent_post = result
        spent[0] += spent_desc
        spent[1] += spent_post
        if consume is None:
            kept.append(out)
        else:
            consume(i, out)

    job = partial(_describe_chunk, fn=fn, params=params, post=post)
    map_chunks(job, imgs, chunk_size=chunk_size, n_jobs=n_jobs, consume=take, desc=desc)
    if timings is not None:
        timings["descriptors"] = timings.get("descriptors", 0.0) + spent[0]
        timings["post"] = timings.get("post", 0.0) + spent[1]
    return kept


def _seed(random_state: Any) -> int:
    """One int seed for the sample and k-means: an int as it is, else drawn from ``check_random_state``."""
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


def _encode_images(fn: Callable, imgs: list, params: dict, post: Callable, *, n_features: int, n_jobs: int | None,
                   chunk_size: int, desc: str) -> tuple[np.ndarray, dict]:
    """Descriptors, then ``post`` (an encoding), of every image: a float32 (N, n_features) array and the CPU
    seconds of each part. Each chunk is written into the output as it arrives: peak memory is the output,
    not twice it."""
    out = np.empty((len(imgs), n_features), dtype=np.float32)
    step = int(chunk_size)

    def consume(i: int, rows: np.ndarray) -> None:
        out[i * step : i * step + len(rows)] = rows

    t: dict = {}
    _run_chunks(fn, imgs, params, post, n_jobs, step, t, consume=consume, desc=desc)
    return out, {"descriptors_cpu_s": t["descriptors"], "encoding_cpu_s": t["post"]}


class BagOfVisualWords(_ImageInput, TransformerMixin, BaseEstimator):
    """Images in, one bag-of-visual-words vector per image out (a scikit-learn transformer).

    ``fit`` extracts local descriptors from the images, draws a seeded sample of at most
    ``max_descriptors`` of them, optionally ZCA-whitens it, and learns ``vocabulary_`` with
    ``MiniBatchKMeans``. ``transform`` encodes every image against it (see :func:`encode`),
    chunk by chunk in ``n_jobs`` processes, never holding all descriptors at once.

    Parameters
    ----------
    descriptor : {"dense-sift", "harris-sift", "patches"} or callable
        Local descriptor (:data:`DESCRIPTORS`), or
        ``f(image, **descriptor_params) -> LocalFeatures``.
    descriptor_params : dict or None
        Options for the descriptor, e.g. ``{"step": 4, "patch_sizes": (16, 24)}``.
    n_words : int
        Vocabulary size ``K``.
    encoding : {"hard", "triangle", "vlad"}
    pyramid : tuple of int or (rows, cols)
        Spatial-pyramid levels, e.g. ``(1, 2, 4)`` (grid sides) or ``(1, 2, (3, 1))``.
    power : float or None
        Signed power law after pooling (0.5: Hellinger).
    l2 : bool
        Final L2 normalisation.
    whiten : bool
        ZCA-whiten descriptors (fit on the sample) before k-means and encoding (Coates et al.).
    whiten_eps : float
        ZCA regulariser.
    max_descriptors : int
        Size of the sample the vocabulary is learnt on (spread evenly over the images).
    max_fit_images : int or None
        Learn the vocabulary from a seeded random subset of at most this many images (``None``:
        all). Describing an image is the costly step, and ``fit_transform`` describes every
        training image twice (once to sample, once to encode); a vocabulary needs far fewer.
    kmeans : {"minibatch", "full"}
        ``"minibatch"``: scikit-learn's ``MiniBatchKMeans`` (fast, the default); ``"full"``: Lloyd's
        ``KMeans`` over the whole sample for ``kmeans_max_iter`` iterations (Coates et al. ran 50),
        slower and a little tighter.
    kmeans_batch_size, kmeans_max_iter, kmeans_n_init : int
        k-means options (``kmeans_batch_size`` only for ``"minibatch"``).
    random_state : int, RandomState or None
        Seeds the descriptor sample and k-means: an int is the seed, a RandomState gives one draw
        (``None``: numpy's global RandomState, as scikit-learn's ``check_random_state``).
    n_jobs : int or None
        joblib processes for descriptor extraction and encoding.
    chunk_size : int
        Images per joblib task.

    Attributes
    ----------
    vocabulary_ : ndarray of float32, shape (n_words, D)
        The visual words (k-means centroids, in whitened space if ``whiten``).
    whitener_ : ZCAWhitening or None
    kmeans_ : KMeans or MiniBatchKMeans
    n_descriptors_fit_ : int
        Size of the sample the vocabulary was learnt on.
    n_features_out_ : int
    timings_ : dict
        Seconds spent in fit: descriptor extraction (summed over workers) and vocabulary
        (whitening + k-means, wall).
    last_transform_timings_ : dict
        Seconds of the last ``transform``, summed over workers: descriptors and encoding.

    Notes
    -----
    Inputs are images (an (N, H, W[, C]) array or a list of images of any sizes), not the 2-D
    numeric tables that scikit-learn's conformance checks feed; see ``tests/classical/test_bovw.py``
    for the checks that are run and the ones expected to fail, with reasons.

    Examples
    --------
    >>> bovw = BagOfVisualWords(n_words=200, pyramid=(1, 2, 4), random_state=0)   # doctest: +SKIP
    >>> X = bovw.fit_transform(images)        # (N, 21 * 200)                   # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        descriptor: str | Callable[..., LocalFeatures] = "dense-sift",
        descriptor_params: dict | None = None,
        n_words: int = 400,
        encoding: Literal["hard", "triangle", "vlad"] = "hard",
        pyramid: tuple[int, ...] = (1, 2, 4),
        power: float | None = 0.5,
        l2: bool = True,
        whiten: bool = False,
        whiten_eps: float = 0.1,
        max_descriptors: int = 100_000,
        max_fit_images: int | None = None,
        kmeans: Literal["minibatch", "full"] = "minibatch",
        kmeans_batch_size: int = 4096,
        kmeans_max_iter: int = 50,
        kmeans_n_init: int = 1,
        random_state: Any = None,
        n_jobs: int | None = None,
        chunk_size: int = 32,
    ):
        self.descriptor = descriptor
        self.descriptor_params = descriptor_params
        self.n_words = n_words
        self.encoding = encoding
        self.pyramid = pyramid
        self.power = power
        self.l2 = l2
        self.whiten = whiten
        self.whiten_eps = whiten_eps
        self.max_descriptors = max_descriptors
        self.max_fit_images = max_fit_images
        self.kmeans = kmeans
        self.kmeans_batch_size = kmeans_batch_size
        self.kmeans_max_iter = kmeans_max_iter
        self.kmeans_n_init = kmeans_n_init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size

    # -- checks --------------------------------------------------------------------------------
    def _check_params(self) -> tuple[int, tuple[tuple[int, int], ...]]:
        _descriptor_fn(self.descriptor)
        k = check_positive(self.n_words, "n_words", integer=True)
        if self.encoding not in ENCODINGS:
            raise VisionkitError(f"encoding: expected one of {ENCODINGS}, got {self.encoding!r}")
        pyramid = check_pyramid(self.pyramid)
        if self.kmeans not in ("minibatch", "full"):
            raise VisionkitError(f"kmeans: expected 'minibatch' or 'full', got {self.kmeans!r}")
        if self.power is not None:
            check_positive(self.power, "power")
        check_positive(self.max_descriptors, "max_descriptors", integer=True)
        check_positive(self.chunk_size, "chunk_size", integer=True)
        return k, pyramid

    def _images(self, X: Any) -> list[np.ndarray]:
        return as_image_list(X, name="X")

    # -- fit / transform -----------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> "BagOfVisualWords":
        """Learn the vocabulary from the descriptors of ``X``.

        Parameters
        ----------
        X : ndarray (N, H, W[, C]) or list of images
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        VisionkitError
            If the images give no descriptors at all, or fewer than ``n_words``.
        """
        k, _ = self._check_params()
        imgs = self._images(X)
        seed = _seed(self.random_state)
        if self.max_fit_images is not None and len(imgs) > check_positive(self.max_fit_images, "max_fit_images", integer=True):
            pick = np.sort(np.random.default_rng([seed, 2]).choice(len(imgs), int(self.max_fit_images), replace=False))
            imgs = [imgs[i] for i in pick]
        per_image = max(1, math.ceil(self.max_descriptors / len(imgs)))
        fn = _descriptor_fn(self.descriptor)
        t_fit = {}
        parts = _run_chunks(
            fn, imgs, dict(self.descriptor_params or {}), partial(_sample_chunk, per_image=per_image, seed=seed), self.n_jobs,
            self.chunk_size, t_fit, desc="descriptors for the vocabulary",
        )
        t0 = time.perf_counter()
        parts = [p for p in parts if p.size]
        if not parts:
            raise VisionkitError(
                f"the {len(imgs)} training image(s) gave no descriptors (e.g. blank images have no Harris corners); "
                "a vocabulary needs some"
            )
        sample = np.concatenate(parts)
        if len(sample) > self.max_descriptors:
            sample = sample[np.random.default_rng([seed, 1]).choice(len(sample), self.max_descriptors, replace=False)]
        if len(sample) < k:
            raise VisionkitError(
                f"n_words={k} is larger than the {len(sample)} descriptors sampled from {len(imgs)} image(s); "
                "use a smaller vocabulary, more images, or a denser descriptor grid"
            )
        self.whitener_ = None
        if self.whiten:
            self.whitener_ = ZCAWhitening(eps=self.whiten_eps).fit(sample)
            sample = self.whitener_.transform(sample).astype(np.float32)
        if self.kmeans == "full":
            km = KMeans(n_clusters=k, max_iter=self.kmeans_max_iter, n_init=self.kmeans_n_init, random_state=seed)
        else:
            km = MiniBatchKMeans(
                n_clusters=k,
                batch_size=self.kmeans_batch_size,
                max_iter=self.kmeans_max_iter,
                n_init=self.kmeans_n_init,
                random_state=seed,
            )
        with stage(f"k-means: {k} words from {len(sample):,} descriptors"):
            self.kmeans_ = km.fit(sample)
        self.vocabulary_ = self.kmeans_.cluster_centers_.astype(np.float32)
        self.timings_ = {"fit_descriptors_cpu_s": t_fit["descriptors"], "vocabulary_s": time.perf_counter() - t0}
        self.n_descriptors_fit_ = int(len(sample))
        width = k * sample.shape[1] if self.encoding == "vlad" else k
        self.n_features_out_ = sum(r * c for r, c in check_pyramid(self.pyramid)) * width
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Encode each image of ``X`` against ``vocabulary_``.

        Returns
        -------
        ndarray of float32, shape (N, n_features_out_)
        """
        check_is_fitted(self, "vocabulary_")
        _, pyramid = self._check_params()
        imgs = self._images(X)
        post = partial(
            _encode_chunk,
            vocabulary=self.vocabulary_,
            whitener=self.whitener_,
            encoding=self.encoding,
            pyramid=pyramid,
            power=self.power,
            l2=self.l2,
        )
        out, self.last_transform_timings_ = _encode_images(
            _descriptor_fn(self.descriptor), imgs, dict(self.descriptor_params or {}), post, n_features=self.n_features_out_,
            n_jobs=self.n_jobs, chunk_size=self.chunk_size, desc=f"descriptors + {self.encoding} encoding")
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "vocabulary_")
        return np.asarray([f"bovw{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # images in (_ImageInput)
        tags.requires_fit = True
        tags.non_deterministic = False
        return tags
