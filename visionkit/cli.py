"""The ``visionkit`` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._validate import VisionkitError

SAMPLE_CHOICES = "astronaut, camera, chelsea, coffee, brick, checkerboard"


def _load(spec: str):
    from .io import SAMPLE_IMAGES, load_image, sample_image

    if spec in SAMPLE_IMAGES and not Path(spec).exists():
        return sample_image(spec, mode="rgb"), spec
    return load_image(spec, mode="rgb"), Path(spec).stem


def cmd_show(args: argparse.Namespace) -> int:
    from .viz import save_figure
    from .viz.overview import overview_figure

    image, name = _load(args.image)
    from .deep import DeepClassifier

    class_names = None
    if args.model:
        classifier = DeepClassifier.load(args.model, device="cpu")
    else:  # no checkpoint: the bundled ImageNet network, titled with ImageNet's class names
        try:
            classifier = DeepClassifier.from_pretrained("efficientnet_lite0")
            class_names = classifier.class_names_
        except VisionkitError as exc:
            print(f"visionkit: no network panels: {exc}", file=sys.stderr)
            classifier = None
    fig = overview_figure(image, classifier=classifier, class_names=class_names, title=name)
    out = save_figure(fig, args.out, dpi=80)
    print(f"wrote {out}")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from . import registry

    for name in registry.list_methods(args.family):
        spec = registry.get_spec(name)
        print(f"{name:20s} {spec.family:10s} {spec.description}")
    return 0


DEFAULT_METHODS = "pixels-svm,hog-svm,lenet"
DEFAULT_PER_CLASS = "5,20,all"


def _parse_per_class(text: str) -> list:
    out = []
    for part in text.split(","):
        part = part.strip()
        if part == "all":
            out.append("all")
        elif part.isdigit() and int(part) > 0:
            out.append(int(part))
        else:
            raise VisionkitError(f"--per-class: expected positive integers or 'all', comma-separated, got {part!r}")
    return out


MAX_SEED = 2**32 - 1  # numpy's legacy generators and scikit-learn take random_state in [0, 2**32)


def _parse_seeds(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) > MAX_SEED:
            raise VisionkitError(f"--seeds: expected comma-separated integers from 0 to {MAX_SEED}, got {part!r}")
        seeds.append(int(part))
    if not seeds:
        raise VisionkitError(f"--seeds: expected at least one seed, got {text!r}")
    return seeds


def _check_out_dir(out: str) -> None:
    """Refuse an unusable --out before any data is loaded or any run is computed."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise VisionkitError(f"--out: expected a folder (created if missing), got {out!r}, which is a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VisionkitError(f"--out: expected a folder that can be created, got {out!r} ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise VisionkitError(f"--out: expected a folder this user can write in, got {out!r}")


def cmd_compare(args: argparse.Namespace) -> int:
    import time

    from . import registry
    from .bench import load_data, run_experiment, write_report

    per_class = _parse_per_class(args.per_class)
    seeds = _parse_seeds(args.seeds)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        registry.get_spec(m)
    _check_out_dir(args.out)
    t0 = time.perf_counter()
    split = load_data(args.data, download=args.download)
    print(f"data {split.name}: {len(split.train)} train / {len(split.test)} test images, {len(split.classes)} classes")
    try:
        run_experiment(split, methods, out=args.out, per_class=per_class, seeds=seeds, robustness=args.robustness)
    except KeyboardInterrupt:
        print(f"\nstopped: finished runs are kept in {args.out}/results.jsonl; rerun the same command to resume", file=sys.stderr)
        write_report(args.out)
        return 130
    md, html = write_report(args.out)
    print(f"wrote {args.out}/results.jsonl, {md} and {html} in {time.perf_counter() - t0:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="visionkit", description="Classical computer vision and deep learning, side by side.")
    sub = p.add_subparsers(dest="command")

    s = sub.add_parser("show", help="one image, side by side: Sobel, Harris steps, visual words (and a trained network)")
    s.add_argument("image", nargs="?", default="astronaut", help=f"an image file, or a bundled photo ({SAMPLE_CHOICES}); default astronaut")
    s.add_argument("--out", default="out/figure.png", help="output .png or .svg (default out/figure.png)")
    s.add_argument("--model", default=None, help="a DeepClassifier checkpoint (PATH.safetensors + PATH.json) to show what it "
                   "looks at; default: EfficientNet-Lite0 with its ImageNet weights")
    s.set_defaults(func=cmd_show)

    c = sub.add_parser("compare", help="run classical and deep methods on the same images and write a report")
    c.add_argument("--data", default="digits", help="digits (default, offline), fashion-mnist[:ROOT], mnist[:ROOT], cifar10[:ROOT] or an ImageFolder path")
    c.add_argument("--methods", default=DEFAULT_METHODS, help=f"comma-separated registered methods (default {DEFAULT_METHODS}; see 'visionkit methods')")
    c.add_argument("--per-class", default=DEFAULT_PER_CLASS, help=f"training images per class, comma-separated, or 'all' (default {DEFAULT_PER_CLASS})")
    c.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    c.add_argument("--robustness", action="store_true", help="also evaluate under noise, blur, rotation, brightness, contrast and JPEG")
    c.add_argument("--out", default="out/compare", help="output folder (default out/compare)")
    c.add_argument("--download", action="store_true", help="allow downloading a missing data set (torchvision)")
    c.set_defaults(func=cmd_compare)

    m = sub.add_parser("methods", help="list the registered methods")
    m.add_argument("--family", choices=["classical", "deep", "transfer"], default=None)
    m.set_defaults(func=cmd_methods)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["compare"])
    try:
        return args.func(args)
    except VisionkitError as exc:
        print(f"visionkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("visionkit: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the file system said no (full disk, read-only file): not a bug, one line
        where = f": {exc.filename!r}" if exc.filename else ""
        print(f"visionkit: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception:
        import traceback

        traceback.print_exc()
        print("visionkit: internal error (a bug): please report it to the visionkit issue tracker with the "
              "command line and the traceback above", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
