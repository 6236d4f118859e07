"""Pack an ImageFolder tree's encoded files into one .npz (and back), byte for byte.

Used to carry CIFAR-10 (JPEG q75: 60,000 files, 55 MB of JPEG) to a machine that cannot read
../shared, where a tar would double its size with per-file headers::

    python benchmarks/pack_images.py pack ../shared/datasets/cifar10-jpeg .gpu/cifar10-jpeg.npz
    python benchmarks/pack_images.py unpack .gpu/cifar10-jpeg.npz /tmp/data/cifar10-jpeg

The files are stored unchanged (no re-encoding): the unpacked tree is identical to the original.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from visionkit._atomic import atomic_write  # noqa: E402


def pack(root: Path, out: Path) -> None:
    if not root.is_dir():
        raise SystemExit(f"pack: expected a folder, got {root}")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in
                   (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".txt"))
    if not paths:
        raise SystemExit(f"pack: no image files under {root}")
    blobs = [p.read_bytes() for p in paths]
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    names = np.frombuffer("\n".join(p.relative_to(root).as_posix() for p in paths).encode(), dtype=np.uint8)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez would add .npz to the temporary name
            np.savez(fh, data=np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets=offsets, names=names)

    atomic_write(out, write)
    print(f"packed {len(paths)} files ({offsets[-1] / 1e6:.1f} MB) into {out} ({out.stat().st_size / 1e6:.1f} MB)")


def unpack(src: Path, root: Path) -> None:
    z = np.load(src)
    data, offsets = z["data"], z["offsets"]
    names = z["names"].tobytes().decode().split("\n")
    for i, name in enumerate(names):
        p = root / str(name)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data[offsets[i]:offsets[i + 1]].tobytes())
    print(f"unpacked {len(names)} files into {root}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("pack", "unpack"))
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    a = ap.parse_args(argv)
    (pack if a.action == "pack" else unpack)(a.src, a.dst)


if __name__ == "__main__":
    main(sys.argv[1:])
