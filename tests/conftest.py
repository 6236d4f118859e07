from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATASETS = SHARED / "datasets"


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    import skimage.data

    return skimage.data.camera().astype(np.float32) / 255


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut().astype(np.float32) / 255


def real_photos():
    """A few real photos from skimage.data, as float32 grey images."""
    import skimage.data
    from skimage.color import rgb2gray

    out = {}
    for name in ("camera", "astronaut", "coffee", "chelsea", "brick"):
        img = getattr(skimage.data, name)()
        out[name] = (rgb2gray(img) if img.ndim == 3 else img / 255.0).astype(np.float32)
    return out


def needs_dataset(name: str):
    return pytest.mark.skipif(not (DATASETS / name).is_dir(), reason=f"../shared/datasets/{name} is absent")


def rel_error(a, b) -> float:
    """Largest absolute difference relative to the largest magnitude of the reference ``b``."""
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def two_classes(n=6, size=48):
    """2n grey-as-RGB uint8 sine gratings, vertical or horizontal by class: two classes a pretrained network tells apart."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:size, 0:size]
    imgs = [np.repeat(((0.5 + 0.5 * np.sin((yy if k % 2 else xx) / 2 + rng.uniform(0, 6))) * 255).astype(np.uint8)[..., None], 3, 2)
            for k in range(2 * n)]
    return np.stack(imgs), np.arange(2 * n) % 2


def shaded_folder(root, counts, *, side, std, ext="jpg", **save):
    """An ImageFolder of noisy grey-ish squares, three classes told apart by brightness (dark 60, light 190, mid 120).

    ``counts`` maps each split folder to its images per class (``{"train": 10, "test": 4}``; ``{"": 8}``
    for class folders directly under ``root``); ``side`` x ``side`` x 3 pixels of N(shade, ``std``),
    drawn from one seeded generator in split, class, image order; ``save`` goes to ``Image.save``.
    """
    from pathlib import Path

    from PIL import Image

    rng = np.random.default_rng(0)
    for part, n in counts.items():
        for c, shade in (("dark", 60), ("light", 190), ("mid", 120)):
            (Path(root) / part / c).mkdir(parents=True)
            for i in range(n):
                im = np.clip(rng.normal(shade, std, (side, side, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(im).save(Path(root) / part / c / f"{i}.{ext}", **save)
    return Path(root)
