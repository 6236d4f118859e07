"""Classical against deep on the same images: the comparison table and the data-efficiency plot.

Run it as a script (`python demos/classical_vs_deep.py [--quick] [--out out/demos]`) or cell by cell
(`# %%` cells). It runs the benchmark harness on scikit-learn's digits (offline): raw pixels and
HOG, each into a linear SVM, against LeNet-5 trained from scratch, with 5, 20 and all training
images per class; the same subsets for every method.
"""

# %% Set-up
import argparse
import sys
from pathlib import Path

from visionkit.bench import comparison_text, load_data, run_experiment, summarise, write_report

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--quick", action="store_true", help="fewer sizes and a shorter LeNet (for CI)")
parser.add_argument("--out", default="out/demos")
args, _ = parser.parse_known_args(sys.argv[1:] if __name__ == "__main__" else [])
out = Path(args.out) / "classical_vs_deep"

# %% The same images, subsets and seeds for every method
split = load_data("digits")
methods = ["pixels-svm", "hog-svm", "lenet"]
per_class = [5, "all"] if args.quick else [5, 20, "all"]
params = {"lenet": {"epochs": 2, "min_steps": 20}} if args.quick else {}
store = run_experiment(split, methods, out=str(out), per_class=per_class, seeds=[0], method_params=params, progress=False)

# %% The table: accuracy and cost
summary = summarise(store.records)
print(f"{'method':12s} {'family':9s} {'n/class':>7s} {'accuracy':>9s} {'fit s':>7s}")
for (data, method, n), s in sorted(summary.items(), key=lambda kv: (str(kv[0][2]), kv[0][1])):
    print(f"{method:12s} {s['family']:9s} {str(n):>7s} {s['accuracy'][0]:9.3f} {s['fit_seconds'][0]:7.1f}")
# %% Data efficiency, and who leads where in words (what `visionkit compare` prints at the end)
print(comparison_text(store.records, methods=methods, per_class=per_class))

# %% The report: data-efficiency plot, accuracy against cost, confusion matrices
md, html = write_report(out, title="classical vs deep on digits")
print(f"report: {html}; plots in {out / 'plots'}")
