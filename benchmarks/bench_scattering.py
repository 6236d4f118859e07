"""Speed of visionkit's 2-D scattering transform against kymatio's, measured in the same run.

    python benchmarks/bench_scattering.py [--configs 32:2,64:3,128:3] [--batch 128] [--channels 3] [--L 8]
                                          [--repeats 5] [--threads 2] [--device cpu] [--out out/bench_scattering.json]

For each size:J pair, times ``visionkit.classical.scattering.Scattering2D`` and kymatio's
``ScatteringTorch2D`` (same J, L, order 2, float32, the same (B, C, H, W) batch) alternately, and
prints the median images/s of each and their ratio (visionkit / kymatio, > 1: faster), after
checking that both give the same coefficients. kymatio's 2-D frontend is imported from its own
module: ``kymatio.torch`` does not import with SciPy >= 1.15 (its 3-D part needs the removed
``scipy.special.sph_harm``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visionkit._atomic import atomic_write  # noqa: E402
from visionkit.bench.metrics import environment  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="32:2,64:3,128:3", help="comma-separated SIZE:J pairs")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--L", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="out/bench_scattering.json")
    args = ap.parse_args()

    import torch

    from visionkit.classical.scattering import Scattering2D

    try:
        import kymatio
        from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D
    except ImportError:
        sys.exit("kymatio is not installed: pip install -c constraints.txt kymatio")

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print("environment:", environment(), "kymatio", kymatio.__version__, "threads", args.threads)
    rows = []
    for cfg in args.configs.split(","):
        size, J = (int(v) for v in cfg.split(":"))
        batch = max(1, args.batch * 32 * 32 // (size * size)) if size > 32 else args.batch
        x = torch.rand(batch, args.channels, size, size, generator=torch.Generator().manual_seed(0)).to(device)
        ours = Scattering2D(J=J, L=args.L).to(device)
        ref = ScatteringTorch2D(J=J, shape=(size, size), L=args.L).to(device)
        with torch.no_grad():
            a, b = ours(x), ref(x)
        err = float((a - b).abs().max() / b.abs().max())
        times: dict[str, list[float]] = {"visionkit": [], "kymatio": []}
        with torch.no_grad():
            for _ in range(args.repeats):  # alternate, so both see the same load on a shared machine
                for name, fn in (("visionkit", ours), ("kymatio", ref)):
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    t = time.perf_counter()
                    fn(x)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    times[name].append(time.perf_counter() - t)
        ips = {k: batch / statistics.median(v) for k, v in times.items()}
        row = {"size": size, "J": J, "L": args.L, "batch": batch, "channels": args.channels, "device": args.device,
               "visionkit_images_per_s": round(ips["visionkit"], 1), "kymatio_images_per_s": round(ips["kymatio"], 1),
               "ratio": round(ips["visionkit"] / ips["kymatio"], 2), "max_rel_diff": err}
        rows.append(row)
        print(f"{size}x{size} x{args.channels} J={J} L={args.L} batch {batch}: visionkit {ips['visionkit']:.1f} images/s, "
              f"kymatio {ips['kymatio']:.1f} images/s, ratio {row['ratio']:.2f} (max relative difference {err:.1e})", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, json.dumps({"environment": environment(), "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
