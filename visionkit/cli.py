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
        class_names = getattr(classifier, "class_names_", None)  # "frog", not "6", when fitted with names
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

    names = registry.list_methods(args.family)
    # the network each method builds, by the name `visionkit.deep.list_models()` uses ("resnet -> resnet20")
    built = {n: registry.get_spec(n).name + (f" -> {m}" if (m := registry.model_of(n)) else "") for n in names}
    width = max(map(len, built.values()), default=0) + 2
    for family in registry.FAMILIES:
        rows = [n for n in names if registry.get_spec(n).family == family]
        if not rows:
            continue
        print(f"{family} ({registry.FAMILY_LABELS[family]}):")
        for name in rows:
            print(f"  {built[name]:{width}s}{registry.get_spec(name).description}")
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


def _parse_params(text: str | None) -> dict:
    import json

    if not text:
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VisionkitError(f'--params: expected a JSON object {{method: {{param: value}}}}, e.g. \'{{"resnet": {{"epochs": 30}}}}\', '
                             f"got {text!r} ({exc.msg} at character {exc.pos})") from None
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise VisionkitError(f'--params: expected a JSON object {{method: {{param: value}}}}, e.g. \'{{"resnet": {{"epochs": 30}}}}\', got {text!r}')
    return params


def _parse_threads(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise VisionkitError(f"--threads: expected a positive integer, got {text!r}")
    return int(text)


class _ThreadLimit:
    """Limit torch's intra-op threads and the BLAS / OpenMP pools (threadpoolctl) to ``n``, and restore them."""

    def __init__(self, n: int | None) -> None:
        self.n = n

    def __enter__(self) -> "_ThreadLimit":
        if self.n is not None:
            import torch
            from threadpoolctl import threadpool_limits

            self._torch = torch.get_num_threads()
            self._pools = threadpool_limits(limits=self.n)  # before torch's: it records the pools' sizes
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc) -> None:
        if self.n is not None:
            import torch

            self._pools.restore_original_limits()
            torch.set_num_threads(self._torch)


def cmd_compare(args: argparse.Namespace) -> int:
    import time

    from . import registry
    from .bench import load_data, run_experiment, write_report

    per_class = _parse_per_class(args.per_class)
    seeds = _parse_seeds(args.seeds)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        registry.get_spec(m)
    threads = _parse_threads(args.threads)
    # checked before the data are loaded: a typo costs nothing
    params = registry.check_params(_parse_params(args.params))
    unused = sorted(set(params) - set(methods))
    if unused:
        raise VisionkitError(f"--params: names methods that are not run ({', '.join(unused)}); --methods is {','.join(methods)}")
    _check_out_dir(args.out)
    from .bench.executors import check_executor_options, make_executor

    workers = _parse_positive(args.workers, "--workers")
    check_executor_options(args.executor, workers=workers, address=args.address)
    nproc = _parse_positive(args.nproc, "--nproc") or 1
    if nproc > 1:
        from .bench.runner import network_methods

        # which methods the processes serve: the networks; said before any work
        networks = network_methods()
        nets = [m for m in methods if m in networks]
        if not nets:
            raise VisionkitError(f"--nproc {nproc}: trains networks data-parallel, but none of --methods "
                                 f"({','.join(methods)}) is one; expected one of {', '.join(networks)}")
        print(f"--nproc {nproc}: {', '.join(nets)} train{'s' if len(nets) == 1 else ''} in {nproc} processes (torchrun); "
              "the other methods in one")
    t0 = time.perf_counter()
    split = load_data(args.data, download=args.download, stream=args.stream)
    print(f"data {split.name}: {len(split.train)} train / {len(split.test)} test images, {len(split.classes)} classes"
          + (", streamed from disk" if args.stream else ""))
    try:
        with _ThreadLimit(threads), make_executor(args.executor, workers=workers, address=args.address) as executor:
            if args.executor == "dask":
                print(f"dask: {executor.n_workers} workers, scheduler {executor.client.scheduler.address}")
            run_experiment(split, methods, out=args.out, per_class=per_class, seeds=seeds, robustness=args.robustness,
                           method_params=params, device=args.device, executor=executor, nproc=nproc,
                           verbose="auto")
    except KeyboardInterrupt:
        print(f"\nstopped: finished runs are kept in {args.out}/results.jsonl; rerun the same command to resume", file=sys.stderr)
        write_report(args.out)
        return 130
    md, html = write_report(args.out)
    from .bench import ResultStore
    from .bench import comparison_text

    print()
    print(comparison_text(ResultStore(args.out).records, data=split.name, methods=methods, per_class=per_class, seeds=seeds))
    print(f"\nfinished in {time.perf_counter() - t0:.1f} s. Report: {html} (open it in a browser), {md}; "
          f"every run: {Path(args.out) / 'results.jsonl'}")
    return 0


def _parse_positive(text: str | None, name: str, kind=int):
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not value > 0:
        raise VisionkitError(f"{name}: expected a positive {'integer' if kind is int else 'number'}, got {text!r}")
    return value


def cmd_train(args: argparse.Namespace) -> int:
    from .deep.distributed import train
    from .deep.models import get_model_spec

    get_model_spec(args.model)  # checked before the data are loaded: a typo costs nothing
    _check_out_dir(args.out)
    seed = _parse_seeds(args.seed)
    if len(seed) != 1:
        raise VisionkitError(f"--seed: expected one seed, got {args.seed!r}")
    train(data=args.data, model=args.model, out=args.out, epochs=_parse_positive(args.epochs, "--epochs"),
          time_budget_s=_parse_positive(args.time_budget, "--time-budget", float), pretrained=args.pretrained,
          batch_size=_parse_positive(args.batch_size, "--batch-size"), lr=_parse_positive(args.lr, "--lr", float),
          img_size=_parse_positive(args.img_size, "--img-size"), seed=seed[0], device=args.device,
          download=args.download, stream=args.stream, progress=not args.no_progress)
    return 0


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


def cmd_cache(args: argparse.Namespace) -> int:
    import time

    from .data import cache_entries, cache_limit, clear_cache, default_cache_dir, evict_cache, parse_size

    base = default_cache_dir()
    if args.action == "clear":
        removed = clear_cache(base)
        print(f"removed {len(removed)} entries, {_human(sum(e.size for e in removed))}, from {base}")
        return 0
    if args.action == "trim":
        limit = parse_size(args.limit) if args.limit else cache_limit()
        removed = evict_cache(limit, base=base)
        print(f"removed {len(removed)} least recently used entries, {_human(sum(e.size for e in removed))}; "
              f"{base} now holds {_human(sum(e.size for e in cache_entries(base)))}")
        return 0
    entries = cache_entries(base)
    limit = cache_limit()
    limit_text = "no limit" if limit is None else f"limit {_human(limit)}"
    print(f"cache: {base} ($VISIONKIT_CACHE)")
    print(f"size: {_human(sum(e.size for e in entries))} in {len(entries)} entries; {limit_text} "
          f"($VISIONKIT_CACHE_LIMIT; least recently used entries are evicted beyond it)")
    now = time.time()
    for e in reversed(entries):  # most recently used first
        age = now - e.last_used
        when = f"{age / 86400:.0f} d ago" if age > 86400 else f"{age / 3600:.0f} h ago" if age > 3600 else f"{max(age, 0) / 60:.0f} min ago"
        print(f"  {_human(e.size):>9s}  {e.kind:15s} used {when:>11s}  {e.path.name}")
    downloads = base / "data"
    if downloads.is_dir():
        print(f"downloaded data sets in {downloads} are not part of the cache (kept by clear and trim)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="visionkit", description="Classical computer vision and deep learning, side by side.")
    p.add_argument("--version", action="version", version=f"visionkit {__version__}")
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
    c.add_argument("--stream", action="store_true",
                   help="decode image files on demand instead of loading the folder into memory (ImageFolder data): "
                        "for folders larger than memory; the same images and results")
    c.add_argument("--params", default=None, metavar="JSON",
                   help='parameters per method, as JSON: \'{"resnet": {"epochs": 30}, "kmeans-svm": {"mirror": true}}\'')
    c.add_argument("--device", choices=["cpu", "cuda", "auto"], default=None,
                   help="where the networks run (default: each method's own, auto = CUDA when available)")
    c.add_argument("--threads", default=None, metavar="N", help="CPU threads for torch and the BLAS / OpenMP pools (default: all)")
    c.add_argument("--nproc", default=None, metavar="N",
                   help="train each network (lenet, resnet, ...) data-parallel in N processes with torchrun on the machine "
                        "that runs it: gloo on the CPU, one GPU each with --device cuda; the recipe's global batch (default 1)")
    c.add_argument("--executor", choices=["local", "dask"], default="local",
                   help="where the runs run: local (default, this process) or dask (one task per run on a Dask cluster)")
    c.add_argument("--workers", default=None, metavar="N", help="with --executor dask: a local cluster of N worker processes")
    c.add_argument("--address", default=None, metavar="HOST:PORT", help="with --executor dask: a running Dask scheduler")
    c.set_defaults(func=cmd_compare)

    t = sub.add_parser("train", help="train one network on one data set and write its checkpoint (also under torchrun)")
    t.add_argument("--data", default="digits", help="digits (default), fashion-mnist[:ROOT], mnist[:ROOT], cifar10[:ROOT] or an ImageFolder path")
    t.add_argument("--model", required=True, help="a registered network, e.g. lenet5, resnet20 (see visionkit.deep.list_models())")
    t.add_argument("--out", required=True, help="folder for model.safetensors + model.json, the training state it resumes from, "
                   "train.log and summary.json")
    t.add_argument("--epochs", default=None, metavar="N", help="epochs (default: the model's recipe)")
    t.add_argument("--time-budget", default=None, metavar="S", help="stop training after S seconds")
    t.add_argument("--pretrained", action="store_true", help="fine-tune from the model's installed pretrained weights")
    t.add_argument("--batch-size", default=None, metavar="B", help="images per step on each process (default: the recipe's); "
                   "a step sees B x processes images")
    t.add_argument("--lr", default=None, help="peak learning rate (default: the recipe's x B x processes / recipe batch)")
    t.add_argument("--img-size", default=None, metavar="PX", help="resize the images to PX x PX (default: their own size)")
    t.add_argument("--seed", default="0", help="initial weights, batch order, augmentation (default 0)")
    t.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto",
                   help="auto (default): CUDA when available (NCCL, one GPU per process), else the CPU (gloo)")
    t.add_argument("--download", action="store_true", help="allow downloading a missing data set (torchvision)")
    t.add_argument("--stream", action="store_true",
                   help="decode the images batch by batch from their files (folders larger than memory), not all up front")
    t.add_argument("--no-progress", action="store_true", help="no progress bar; the log line of each epoch only")
    t.set_defaults(func=cmd_train)

    k = sub.add_parser("cache", help="where the decoded-data cache is and how big; clear or trim it")
    k.add_argument("action", nargs="?", choices=["show", "clear", "trim"], default="show",
                   help="show (default): location, size and entries; clear: remove every entry; trim: evict the least "
                        "recently used entries down to --limit")
    k.add_argument("--limit", default=None, metavar="SIZE", help="for trim: e.g. 2GB (default $VISIONKIT_CACHE_LIMIT or 10GB)")
    k.set_defaults(func=cmd_cache)

    m = sub.add_parser("methods", help="list the registered methods")
    m.add_argument("--family", choices=["classical", "deep", "transfer"], default=None)
    m.set_defaults(func=cmd_methods)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `visionkit`: say what it can do, run nothing
        parser.print_help()
        return 0
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
