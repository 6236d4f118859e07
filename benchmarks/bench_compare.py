"""The full classical-vs-deep comparison on real data: CIFAR-10 (JPEG q75) and Caltech-101.

    python benchmarks/bench_compare.py --data cifar10 [--methods ...] [--per-class ...] [--seeds 0,1,2] [--robustness]
    python benchmarks/bench_compare.py --data caltech101

Data come from ../shared/datasets (or --root). Results go to OUT/results.jsonl (resumable: rerun the
same command to finish an interrupted run) and OUT/report.md / report.html. Caltech-101 is reported as
mean per-class accuracy (it is very unbalanced); its photos keep their own sizes and each method
resizes them as it needs (the preset's method parameters, overridable with --params).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visionkit.bench import load_data, run_experiment, write_report  # noqa: E402
from visionkit.bench.metrics import environment  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"

PRESETS = {
    "cifar10": {"folder": "cifar10-jpeg", "size": None,
                "methods": "pixels-svm,hog-svm,kmeans-svm,bovw-svm,resnet,vit,cnn-features-svm,pretrained-features-svm",
                "per_class": "10,100,500",
                "params": {"kmeans-svm": {"n_jobs": 2}, "bovw-svm": {"n_jobs": 2},
                           # scattering on YUV, J=2 (8 x 8 maps), L=8, order 2, log: 15,552 features; C chosen on a
                           # validation split of the training images (12,000 / 3,000: 0.0005), scaled to 50,000 (README)
                           "scattering-svm": {"J": 2, "L": 8, "channels": "yuv", "normalize": "log", "C": 0.00012, "progress": True},
                           # Coates + scattering (2,048 principal axes), mirrors: C and the weight chosen on the
                           # 20,000 / 5,000 split of bench_cifar_combined.py (README)
                           "kmeans-scattering-svm": {"n_jobs": 2, "progress": True}}},
    "caltech101": {"folder": "caltech101", "size": None,
                   "methods": "hog-svm,bovw-svm,harris-bovw-svm,fisher-svm,vlad-svm,resnet,cnn-features-svm,pretrained-features-svm,"
                              "pretrained-finetune",
                   "per_class": "5,15,30",
                   # The photos keep their own sizes; each method resizes: the bag-of-words pipelines to at
                   # most 240 / 300 px (aspect kept), HOG to 64 x 64, the from-scratch CNNs follow their photo
                   # recipe (visionkit.deep.methods.PHOTO_RECIPE: ResNet-18 at 96 px, random resized crops,
                   # >= 800 steps of 64). --params changes it (e.g. on a GPU).
                   "params": {"hog-svm": {"size": (64, 64)}, "bovw-svm": {"n_jobs": 2}, "harris-bovw-svm": {"n_jobs": 2},
                              "fisher-svm": {"n_jobs": 2}, "vlad-svm": {"n_jobs": 2},
                              # fine-tuning at 224 px trains at ~12 images/s on 2 CPU cores (bf16), at 160 px ~35
                              "pretrained-finetune": {"img_size": 160},
                              # photos resized to 128 x 128, J=4 (8 x 8 maps), YUV: 80,064 features (the transform cuts
                              # its batches to 30 photos here, 1 GiB of maps: scattering_batch); C = 0.002: the CIFAR
                              # value scaled to ~2,900 training photos
                              "scattering-svm": {"size": (128, 128), "J": 4, "L": 8, "channels": "yuv", "C": 0.002,
                                                 "progress": True}}},
    "fashion-mnist": {"folder": "FashionMNIST", "kind": "fashion-mnist", "size": None,
                      "methods": "hog-svm,resnet,pretrained-features-svm",
                      "per_class": "10,100,all",
                      # 28 px grey: the pretrained network sees it upscaled to 128 px (224 px would cost 3x)
                      "params": {"pretrained-features-svm": {"img_size": 128}}},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=sorted(PRESETS), required=True)
    ap.add_argument("--root", default=None, help="data folder (default ../shared/datasets/<name>)")
    ap.add_argument("--methods", default=None)
    ap.add_argument("--per-class", default=None)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--robustness", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--verbose", action="store_true", help="bars and a log line per epoch inside each run, even off a terminal")
    ap.add_argument("--params", default=None,
                    help='JSON {method: {param: value}}, each method\'s merged over the preset\'s parameters of that method, '
                         'e.g. \'{"resnet": {"epochs": 20}}\'')
    args = ap.parse_args()

    preset = PRESETS[args.data]
    root = Path(args.root) if args.root else SHARED / preset["folder"]
    methods = (args.methods or preset["methods"]).split(",")
    per_class = [p if p == "all" else int(p) for p in (args.per_class or preset["per_class"]).split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    params = dict(preset.get("params", {}))
    if args.params:
        try:
            extra = json.loads(args.params)
        except json.JSONDecodeError as exc:
            ap.error(f"--params: expected a JSON object {{method: {{param: value}}}}, got {args.params!r} ({exc})")
        if not isinstance(extra, dict) or not all(isinstance(v, dict) for v in extra.values()):
            ap.error(f"--params: expected a JSON object {{method: {{param: value}}}}, got {args.params!r}")
        for method, values in extra.items():  # merged: {"C": 0.002} keeps the preset's size, J, ...
            params[method] = {**params.get(method, {}), **values}
    out = args.out or f"out/bench_compare/{args.data}"
    print("command:", " ".join(sys.argv))
    print("environment:", environment())
    t0 = time.perf_counter()
    # folders are read as ImageFolder; data with their own format (IDX files) are named by their kind
    split = load_data(f"{preset['kind']}:{root}" if preset.get("kind") else str(root), size=preset["size"])
    split.name = args.data
    print(f"{args.data}: {len(split.train)} train / {len(split.test)} test, {len(split.classes)} classes, loaded in {time.perf_counter() - t0:.1f} s")
    run_experiment(split, methods, out=out, per_class=per_class, seeds=seeds, robustness=args.robustness,
                   method_params=params, verbose=True if args.verbose else "auto")
    md, html = write_report(out, title=f"visionkit: classical vs deep on {args.data}")
    print(md.read_text())
    print(f"wrote {md} and {html}; total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
