"""The ``visionkit`` command."""

from __future__ import annotations

import argparse
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
    from .viz import save_figure, sobel_harris_figure

    image, name = _load(args.image)
    fig = sobel_harris_figure(image, sigma=args.sigma, k=args.k, min_distance=args.min_distance, title=name)
    out = save_figure(fig, args.out)
    print(f"wrote {out}")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from . import registry

    for name in registry.list_methods(args.family):
        spec = registry.get_spec(name)
        print(f"{name:20s} {spec.family:10s} {spec.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="visionkit", description="Classical computer vision and deep learning, side by side.")
    sub = p.add_subparsers(dest="command")

    s = sub.add_parser("show", help="Sobel and Harris figure of one image")
    s.add_argument("image", nargs="?", default="astronaut", help=f"an image file, or a bundled photo ({SAMPLE_CHOICES}); default astronaut")
    s.add_argument("--out", default="out/figure.png", help="output .png or .svg (default out/figure.png)")
    s.add_argument("--sigma", type=float, default=1.0, help="Harris Gaussian window sigma")
    s.add_argument("--k", type=float, default=0.05, help="Harris k")
    s.add_argument("--min-distance", type=int, default=5, help="minimum distance between corners")
    s.set_defaults(func=cmd_show)

    m = sub.add_parser("methods", help="list the registered methods")
    m.add_argument("--family", choices=["classical", "deep"], default=None)
    m.set_defaults(func=cmd_methods)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["show", *(argv or [])])
    try:
        return args.func(args)
    except VisionkitError as exc:
        print(f"visionkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("visionkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
