"""Accuracy and cost of visionkit's deep models on the shared data sets.

Examples (run from the worktree, under the shared lock for anything heavy)::

    flock /tmp/visionkit-heavy.lock env PYTHONPATH=. python benchmarks/bench_deep.py accuracy \
        --dataset cifar10 --model airbench94 --epochs 8 --time-budget 840
    flock /tmp/visionkit-heavy.lock env PYTHONPATH=. python benchmarks/bench_deep.py accuracy \
        --dataset fashion-mnist --model airbench94 --epochs 6
    flock /tmp/visionkit-heavy.lock env PYTHONPATH=. python benchmarks/bench_deep.py accuracy \
        --dataset cifar10 --model vit_cifar --epochs 20 --time-budget 300
    flock /tmp/visionkit-heavy.lock env PYTHONPATH=. python benchmarks/bench_deep.py throughput
    PYTHONPATH=. python benchmarks/bench_deep.py accuracy --quick      # a 1-minute smoke run

Every run prints the command, library versions and hardware, shows progress, and writes a JSON
record (atomically) under ``--out`` (default ``out/bench_deep``). Accuracies are on the official
test split; with several ``--seeds`` the mean and standard deviation are reported. Training time
excludes the per-epoch evaluation; with ``--time-budget`` the learning-rate schedule follows the
elapsed time and training stops when the budget is spent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from visionkit._atomic import atomic_write  # noqa: E402
from visionkit.data import load_idx_dataset, load_image_folder  # noqa: E402
from visionkit.deep import (  # noqa: E402
    TrainConfig,
    count_parameters,
    create_model,
    evaluate,
    fit,
    get_model_spec,
    list_models,
    to_tensor_images,
)

DATA = Path(os.environ.get("VISIONKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def environment() -> dict:
    import sklearn
    import torchvision

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return dict(command=" ".join(shlex.quote(a) for a in sys.argv), python=platform.python_version(),
                torch=torch.__version__, torchvision=torchvision.__version__, numpy=np.__version__, sklearn=sklearn.__version__,
                cpu=cpu, cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(),
                cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                time_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def write_json(path: Path, record: dict) -> None:
    atomic_write(path, json.dumps(record, indent=2))
    print(f"wrote {path}")


def load_dataset(name: str):
    if name == "cifar10":
        root = DATA / "cifar10-jpeg"
        tr = load_image_folder(root / "train", cache=True, n_jobs=2)
        te = load_image_folder(root / "test", cache=True, n_jobs=2)
        return tr.images, tr.labels, te.images, te.labels, "CIFAR-10 (JPEG q75)"
    if name == "fashion-mnist":
        root = DATA / "FashionMNIST"
        tr, te = load_idx_dataset(root, "train"), load_idx_dataset(root, "test")
        return tr.images, tr.labels, te.images, te.labels, "Fashion-MNIST"
    raise SystemExit(f"unknown dataset {name!r}")


def run_accuracy(args) -> dict:
    xtr, ytr, xte, yte, title = load_dataset(args.dataset)
    if args.quick:
        rng = np.random.default_rng(0)
        i, j = rng.permutation(len(ytr))[:5000], rng.permutation(len(yte))[:1000]
        xtr, ytr, xte, yte = xtr[i], ytr[i], xte[j], yte[j]
    spec = get_model_spec(args.model)
    recipe = dict(spec.recipe)
    recipe.update(progress=True)
    if args.epochs is not None:
        recipe["epochs"] = args.epochs
    if args.quick:
        recipe["epochs"] = 1
    if args.time_budget is not None:
        recipe["time_budget_s"] = args.time_budget
    for kv in args.set or []:
        k, v = kv.split("=", 1)
        recipe[k] = json.loads(v)
    in_chans = xtr.shape[-1]
    size = xtr.shape[1]
    print(f"{title}: train {xtr.shape}, test {xte.shape}; model {args.model} ({spec.description})")
    print("recipe:", recipe)
    runs = []
    xte_t, yte_t = to_tensor_images(xte), torch.as_tensor(yte)
    for seed in args.seeds:
        cfg = TrainConfig.from_dict({**recipe, "seed": seed})
        model = create_model(args.model, num_classes=int(ytr.max()) + 1, in_chans=in_chans, img_size=max(size, spec.min_size), seed=seed)
        t0 = time.perf_counter()
        res = fit(model, xtr, ytr, cfg, val=(xte, yte))
        wall = time.perf_counter() - t0
        # fit evaluated the final weights on the test set with cfg.tta already (early stopping is off here)
        final = dict(acc=res.history[-1]["val_acc"], loss=res.history[-1]["val_loss"])
        eval_s = res.history[-1]["eval_s"]
        plain = evaluate(model, xte_t, yte_t, res.mean, res.std, tta=0) if cfg.tta else final
        run = dict(seed=seed, test_acc=final["acc"], test_acc_no_tta=plain["acc"], train_time_s=res.train_time_s,
                   epochs_run=res.epochs_run, wall_s=wall, final_eval_s=eval_s, history=res.history,
                   params=count_parameters(model))
        print(f"seed {seed}: test accuracy {final['acc']:.4f} (tta={cfg.tta}; {plain['acc']:.4f} without), "
              f"training {res.train_time_s:.0f} s over {res.epochs_run} epochs, test eval {eval_s:.1f} s", flush=True)
        runs.append(run)
    accs = [r["test_acc"] for r in runs]
    summary = dict(mean_acc=statistics.mean(accs), std_acc=statistics.stdev(accs) if len(accs) > 1 else 0.0,
                   mean_train_time_s=statistics.mean(r["train_time_s"] for r in runs), n_seeds=len(runs))
    print(f"== {title} {args.model}: accuracy {summary['mean_acc']:.4f} +- {summary['std_acc']:.4f} over {len(runs)} seed(s), "
          f"training {summary['mean_train_time_s']:.0f} s")
    return dict(task="accuracy", dataset=title, model=args.model, quick=args.quick, recipe=recipe, runs=runs, summary=summary)


def _time_it(fn, min_time: float, max_iters: int = 50) -> float:
    fn()  # warm-up (oneDNN builds its kernels on the first call)
    n, t0 = 0, time.perf_counter()
    while n < max_iters and (n < 2 or time.perf_counter() - t0 < min_time):
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def run_throughput(args) -> dict:
    import torch.nn.functional as F

    try:  # optional; install it apart, e.g. pip install --no-deps --target /tmp/timm_pkg timm, PYTHONPATH=.:/tmp/timm_pkg
        import timm
    except ImportError:
        timm = None
        print("timm is not importable: visionkit models only")
    rows = []
    names = args.models or list_models()
    for name in names:
        spec = get_model_spec(name)
        size = spec.default_img_size
        bs = args.batch if size <= 64 else 2
        for source in ("visionkit", "timm"):
            if source == "timm":
                if timm is None or spec.timm_name is None:
                    continue
                # like for like where timm allows it: Swin at visionkit's small-image settings
                kw = dict(img_size=size, patch_size=2, window_size=4) if "swin" in spec.timm_name else {}
                try:
                    model = timm.create_model(spec.timm_name, pretrained=False, num_classes=10, **kw)
                except Exception as exc:  # a timm variant that cannot be built this way
                    print(f"timm {spec.timm_name}: skipped ({type(exc).__name__}: {exc})")
                    continue
                tsize = size if "vit" not in spec.timm_name else 224
            else:
                model = create_model(name, seed=0)
                tsize = size
            for amp in (False, True):
                m = model.train()
                if amp:
                    m = m.to(memory_format=torch.channels_last)
                x = torch.randn(bs, 3, tsize, tsize)
                if amp:
                    x = x.contiguous(memory_format=torch.channels_last)
                y = torch.randint(0, 10, (bs,))
                opt = torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9)

                def train_step():
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                        loss = F.cross_entropy(m(x).float(), y)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()

                def infer():
                    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                        m(x)

                t_train = _time_it(train_step, args.min_time)
                m.eval()
                t_inf = _time_it(infer, args.min_time)
                row = dict(model=name, source=source, arch=spec.timm_name if source == "timm" else name, img_size=tsize, batch=bs,
                           bf16=amp, params=count_parameters(model), train_img_s=bs / t_train, infer_img_s=bs / t_inf)
                rows.append(row)
                print(f"{row['arch']:32s} {source:9s} {tsize:4d}px bs{bs:3d} {'bf16' if amp else 'fp32'}  "
                      f"params {row['params']:>11,d}  train {row['train_img_s']:8.1f} img/s  infer {row['infer_img_s']:8.1f} img/s", flush=True)
            del model
    return dict(task="throughput", timm=getattr(timm, "__version__", None), rows=rows,
                note="tiny-batch timing, one process, torch threads as printed; timm not installed when timm is null")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("task", nargs="?", default="accuracy", choices=("accuracy", "throughput"))
    p.add_argument("--dataset", default="cifar10", choices=("cifar10", "fashion-mnist"))
    p.add_argument("--model", default="airbench94", choices=list_models())
    p.add_argument("--models", nargs="*", help="throughput: the models (default: all)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--time-budget", type=float, help="training seconds (the schedule follows the clock)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--set", action="append", help="override a recipe option, e.g. --set lr=0.01 (JSON value)")
    p.add_argument("--quick", action="store_true", help="5,000 training and 1,000 test images, one epoch")
    p.add_argument("--batch", type=int, default=16, help="throughput: batch size for small-image models")
    p.add_argument("--min-time", type=float, default=3.0, help="throughput: seconds per timing")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "out" / "bench_deep"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    env = environment()
    print(json.dumps(env, indent=1))
    t0 = time.time()
    record = run_accuracy(args) if args.task == "accuracy" else run_throughput(args)
    record.update(environment=env, total_wall_s=time.time() - t0)
    if args.task == "accuracy":
        tag = f"accuracy-{args.dataset}-{args.model}{'-quick' if args.quick else ''}"
    else:
        tag = "throughput"
    write_json(Path(args.out) / f"{tag}.json", record)


if __name__ == "__main__":
    main()
