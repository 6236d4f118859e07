"""A CNN against a ViT, trained from scratch on the same small data set, and what each looks at.

Run it as a script (`python demos/cnn_vs_vit.py [--quick] [--out out/demos]`) or cell by cell
(`# %%` cells). Data: 2,000 CIFAR-10 (JPEG q75) training images from ../shared/datasets when there,
else scikit-learn's digits; `--quick` trains for one epoch on 300 digits (for CI).
"""

# %% Set-up
import argparse
import sys
import time
from pathlib import Path

import numpy as np

from visionkit.bench import load_data, sample_per_class
from visionkit.deep import DeepClassifier
from visionkit.viz import save_figure
from visionkit.viz.figures import plt
from visionkit.viz import network_figure

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--quick", action="store_true")
parser.add_argument("--out", default="out/demos")
args, _ = parser.parse_known_args(sys.argv[1:] if __name__ == "__main__" else [])
out = Path(args.out)

# %% Data: the same training subset and test set for both networks
try:
    if args.quick:
        raise FileNotFoundError
    split = load_data("cifar10")
    per_class, epochs = 200, 5
except Exception:
    split = load_data("digits")
    per_class, epochs = (30, 1) if args.quick else (100, 15)
idx = sample_per_class(split.train.labels, per_class, random_state=0)
x_train, y_train = split.train.images[idx], split.train.labels[idx]
x_test, y_test = split.test.images, split.test.labels
print(f"{split.name}: {len(idx)} training images, {len(y_test)} test images, {len(split.classes)} classes")

# %% Train both with their own recipes (ResNet-20: SGD + crop/flip; ViT: AdamW + stronger augmentation)
results, models = {}, {}
for name in ("resnet20", "vit_cifar"):
    t = time.perf_counter()
    clf = DeepClassifier(name, epochs=epochs, random_state=0).fit(x_train, y_train)
    fit_s = time.perf_counter() - t
    acc = float((clf.predict(x_test) == y_test).mean())
    n_params = sum(p.numel() for p in clf.model_.parameters())
    results[name] = dict(acc=acc, fit_s=fit_s, params=n_params, history=clf.history_)
    models[name] = clf
    print(f"{name:10s} test accuracy {acc:.3f}  parameters {n_params:,}  training {fit_s:.1f} s")

# %% Training curves
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
for name, r in results.items():
    ax.plot([h["epoch"] for h in r["history"]], [h["train_loss"] for h in r["history"]], marker="o", label=f"{name} (test acc {r['acc']:.2f})")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.set_title(f"CNN vs ViT on {len(idx)} {split.name} images")
ax.legend()
save_figure(fig, out / "cnn_vs_vit_curves.png")

# %% What each looks at, on the same test image
i = int(np.flatnonzero(y_test == y_test[len(y_test) // 2])[0])
for name, clf in models.items():
    save_figure(network_figure(clf, x_test[i], class_names=split.classes, title=f"{name} on a test image"), out / f"cnn_vs_vit_{name}.png")
print(f"figures in {out}/")
