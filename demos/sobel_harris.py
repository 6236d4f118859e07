"""Sobel and Harris on bundled photos: the course's "À la recherche de l'information visuelle".

Run it as a script (`python demos/sobel_harris.py [--quick] [--out out/demos]`) or cell by cell
(`# %%` cells, e.g. in VS Code or Jupyter). Writes its figures as PNG.
"""

# %% Set-up
import argparse
import sys
import time
from pathlib import Path

import numpy as np

import visionkit as vk
from visionkit.viz import harris_steps_figure, save_figure, sobel_harris_figure

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--quick", action="store_true", help="one small photo only (for CI)")
parser.add_argument("--out", default="out/demos", help="folder for the figures")
args, _ = parser.parse_known_args(sys.argv[1:] if __name__ == "__main__" else [])
out = Path(args.out)
photos = ["checkerboard"] if args.quick else ["astronaut", "chelsea", "coffee", "brick"]

# %% The slide's kernels: Gx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], Gy = Gx.T
step = np.zeros((6, 8), np.float32)
step[:, 4:] = 1.0  # a vertical step edge
gx, gy = vk.sobel_gradients(step)
print("Gx on a step edge (row 0):", gx[0].tolist())  # 4 on both sides of the edge
print("Gy on a step edge is zero:", bool(np.all(gy == 0)))

# %% Harris on a white square: exactly its four corners
square = np.zeros((40, 40), np.uint8)
square[10:30, 10:30] = 255
print("corners of the square:", vk.harris_corners(square).tolist())

# %% The figures: gradients, orientation, response and corners; then the six steps
for name in photos:
    img = vk.sample_image(name)
    t = time.perf_counter()
    corners = vk.harris_corners(img, min_distance=5)
    print(f"{name}: {img.shape[1]}x{img.shape[0]}, {len(corners)} corners in {1e3 * (time.perf_counter() - t):.1f} ms")
    save_figure(sobel_harris_figure(img, title=name), out / f"sobel_harris_{name}.png")
    save_figure(harris_steps_figure(img, title=f"{name}: Harris step by step"), out / f"harris_steps_{name}.png")
print(f"figures in {out}/")
