"""The bag of visual words, from image to words to dictionary to SVM (the course's "Images -- Mots -- Dictionnaire").

Run it as a script (`python demos/bag_of_words.py [--quick] [--out out/demos]`) or cell by cell
(`# %%` cells). The data: 64x64 tiles cut from four bundled photos (scikit-image), one class per
photo; `--quick` uses fewer tiles and a smaller dictionary.
"""

# %% Set-up
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import skimage.data
from sklearn.pipeline import Pipeline

from visionkit.classical import BagOfVisualWords, LinearSVM, dense_sift
from visionkit.viz import bovw_figure, save_figure

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--quick", action="store_true", help="small texture data set only (for CI)")
parser.add_argument("--out", default="out/demos")
args, _ = parser.parse_known_args(sys.argv[1:] if __name__ == "__main__" else [])
out = Path(args.out)
rng = np.random.default_rng(0)

# %% Data: tiles of four photos (brick, grass, gravel, camera) as four classes
def tiles(photo: np.ndarray, n: int, size: int = 64) -> list[np.ndarray]:
    h, w = photo.shape[:2]
    out_tiles = []
    for _ in range(n):
        r, c = rng.integers(0, h - size), rng.integers(0, w - size)
        t = photo[r : r + size, c : c + size]
        out_tiles.append(t if t.ndim == 3 else np.repeat(t[..., None], 3, axis=2))
    return out_tiles


photos = {"brick": skimage.data.brick(), "grass": skimage.data.grass(), "gravel": skimage.data.gravel(),
          "camera": skimage.data.camera()}
n_per = 20 if args.quick else 60
images, labels = [], []
for label, (name, photo) in enumerate(photos.items()):
    images += tiles(photo, n_per)
    labels += [label] * n_per
images, labels = np.stack(images), np.array(labels)
order = rng.permutation(len(labels))
images, labels = images[order], labels[order]
half = len(labels) // 2
print(f"{len(labels)} tiles of 64x64 from {', '.join(photos)}; {half} to train, the rest to test")

# %% Image -> local descriptors: dense SIFT on a grid, at several scales
feats = dense_sift(images[0], step=8, patch_sizes=(16, 24))
print(f"one tile gives {len(feats.descriptors)} SIFT descriptors of {feats.descriptors.shape[1]} numbers")

# %% Descriptors -> dictionary (k-means words) -> one histogram per image -> linear SVM
t = time.perf_counter()
pipe = Pipeline([
    ("words", BagOfVisualWords(descriptor="dense-sift", descriptor_params={"step": 8, "patch_sizes": (16, 24)},
                               n_words=32 if args.quick else 64, encoding="hard", pyramid=(1, 2), random_state=0)),
    ("svm", LinearSVM(C=1.0)),
]).fit(images[:half], labels[:half])
acc = (pipe.predict(images[half:]) == labels[half:]).mean()
print(f"bag of words + linear SVM: test accuracy {acc:.3f} ({time.perf_counter() - t:.1f} s)")

# %% The words on one image: keypoints coloured by word, its histogram, example patches per word
harris = BagOfVisualWords(descriptor="harris-sift", n_words=16, pyramid=(1,), random_state=0).fit(images[:half])
fig = bovw_figure(images[half], pipe.named_steps["words"], harris, example_images=list(images[:half]),
                  title="dense SIFT words on a test tile")
save_figure(fig, out / "bag_of_words.png")
print(f"figure in {out}/bag_of_words.png")
