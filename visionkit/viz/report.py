"""The benchmark report's figures, one function each; every one returns a matplotlib Figure.

They draw :func:`visionkit.bench.summary.summarise`'s output (and the perturbed records for
robustness); :func:`report_figures` gives the figures a report of one data set holds, by name.
"""

from __future__ import annotations

import os

from collections import defaultdict

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..bench.summary import _by_severity, _cost, _n_sort, crossover  # noqa: E402
from ..registry import FAMILY_LABELS  # noqa: E402

__all__ = ["accuracy_vs_cost_figure", "data_efficiency_figure", "robustness_figure", "confusion_figure", "report_figures",
           "misclassified_figure", "FAMILY_STYLE"]

#: Colour, marker and line of each method family, in every figure.
FAMILY_STYLE = {"classical": dict(color="tab:blue", marker="o", linestyle="-"),
                "deep": dict(color="tab:red", marker="s", linestyle="--"),
                "transfer": dict(color="tab:green", marker="^", linestyle=":")}


def _rows(summary: dict, data: str) -> tuple[dict, list[str], list]:
    """The data set's summary rows, its methods (sorted) and its training sizes (ascending, "all" last)."""
    rows = {k: v for k, v in summary.items() if k[0] == data}
    return rows, sorted({k[1] for k in rows}), sorted({k[2] for k in rows}, key=_n_sort)


def _label_offsets(xs: list[float], ys: list[float], *, step: float = 10.0) -> list[float]:
    """Vertical offsets (points) that keep labels of nearby points on a log-x scatter from overlapping.

    Points closer than 0.15 decade in x and 3 % of the y range share a column: each further label in
    it goes ``step`` points lower than the one above.
    """
    if not ys:
        return []
    span = (max(ys) - min(ys)) or 1.0
    order = sorted(range(len(ys)), key=lambda i: -ys[i])
    offsets = [0.0] * len(ys)
    placed: list[int] = []
    for i in order:
        near = [j for j in placed if abs(np.log10(xs[i]) - np.log10(xs[j])) < 0.15 and abs(ys[i] - ys[j]) < 0.03 * span]
        if near:
            offsets[i] = min(offsets[j] for j in near) - step
        placed.append(i)
    return offsets


def _family_legend(ax, families) -> None:
    """A legend of the families present: colour and marker, with their names for people."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=FAMILY_STYLE[f]["color"], marker=FAMILY_STYLE[f]["marker"], linestyle="none",
                      label=FAMILY_LABELS[f]) for f in FAMILY_STYLE if f in families]
    if handles:
        # outside the axes: inside, it hid points and their labels
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)


def accuracy_vs_cost_figure(summary: dict, data: str) -> Figure:
    """Mean per-class accuracy (with its spread over seeds) against fit + predict seconds, at the largest size."""
    rows, methods, sizes = _rows(summary, data)
    top = sizes[-1]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    pts = [(m, max(_cost(s), 1e-3), s["mean_class_accuracy"][0], s) for m in methods if (s := rows.get((data, m, top)))]
    offsets = _label_offsets([p[1] for p in pts], [p[2] for p in pts])
    for (m, x, y, s), dy in zip(pts, offsets):
        st = FAMILY_STYLE[s["family"]]
        ax.errorbar(x, y, yerr=s["mean_class_accuracy"][1], fmt=st["marker"], color=st["color"], capsize=3)
        ax.annotate(m, (x, y), textcoords="offset points", xytext=(5, 4 + dy), fontsize=8)
    ax.set_xscale("log")
    ax.margins(x=0.15, y=0.1)  # room for the labels of the points at the edges
    ax.set_xlabel("cost: fit + predict time (s, log scale)")
    ax.set_ylabel("mean per-class accuracy")
    ax.set_title(f"{data}: accuracy against cost (n/class = {top})")
    _family_legend(ax, {s["family"] for *_, s in pts})
    ax.grid(alpha=0.3)
    return fig


def data_efficiency_figure(summary: dict, data: str) -> Figure:
    """Mean per-class accuracy against training images per class, one curve per method, spread shaded."""
    rows, methods, sizes = _rows(summary, data)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for m in methods:
        pts = [(rows[(data, m, n)]["n_train"] / max(len(rows[(data, m, n)]["classes"]), 1), rows[(data, m, n)])
               for n in sizes if (data, m, n) in rows]
        if not pts:
            continue
        st = FAMILY_STYLE[pts[0][1]["family"]]
        x = [p[0] for p in pts]
        y = np.array([p[1]["mean_class_accuracy"][0] for p in pts])
        e = np.array([p[1]["mean_class_accuracy"][1] for p in pts])
        line, = ax.plot(x, y, label=f"{m} ({FAMILY_LABELS[pts[0][1]['family']]})", marker=st["marker"],
                        linestyle=st["linestyle"])
        ax.fill_between(x, y - e, y + e, alpha=0.15, color=line.get_color())
    cross, _ = crossover(summary, data)
    ax.set_xscale("log")
    ax.set_xlabel("training images per class (log scale)")
    ax.set_ylabel("mean per-class accuracy")
    ax.set_title(f"{data}: data efficiency" + (f" (deep overtakes classical from n/class = {cross})" if cross is not None else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    return fig


def robustness_figure(summary: dict, records: list[dict], data: str) -> Figure:
    """Accuracy under each perturbation, clean first and strength increasing to the right, one panel per kind.

    ``records`` are the store's records; those of ``data`` with a perturbation at the largest
    training size are drawn (there must be some).
    """
    rows, methods, sizes = _rows(summary, data)
    top = sizes[-1]
    pert = [r for r in records if r["data"] == data and r.get("perturbation") and r["per_class"] == top]
    kinds = sorted({r["perturbation"]["kind"] for r in pert})
    ncol = min(3, len(kinds))
    nrow = int(np.ceil(len(kinds) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    for ax, kind in zip(axes.ravel(), kinds):
        for m in methods:
            rs = [r for r in pert if r["method"] == m and r["perturbation"]["kind"] == kind]
            if not rs:
                continue
            by_s = defaultdict(list)
            for r in rs:
                by_s[r["perturbation"]["strength"]].append(r["mean_class_accuracy"])
            xs = _by_severity(kind, by_s)
            clean = rows.get((data, m, top))
            st = FAMILY_STYLE[rs[0]["family"]]
            xlab = ["clean"] + [str(x) for x in xs]
            ys = ([clean["mean_class_accuracy"][0]] if clean else [np.nan]) + [float(np.mean(by_s[x])) for x in xs]
            ax.plot(range(len(xlab)), ys, label=m, marker=st["marker"], linestyle=st["linestyle"])
            ax.set_xticks(range(len(xlab)), xlab)
        ax.set_title(kind)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(kinds):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("mean per-class accuracy")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{data}: robustness (strength increases to the right)")
    fig.tight_layout()
    return fig


def confusion_figure(cms: list[tuple[str, dict]], data: str) -> Figure:
    """Row-normalised confusion matrices with the class names on both axes, the values in % and a colour bar.

    ``cms`` pairs each method's name with its summary row (``confusion_matrix``, ``classes``,
    ``mean_class_accuracy``).
    """
    k = len(cms[0][1]["confusion_matrix"])
    names = list(cms[0][1]["classes"]) or [str(i) for i in range(k)]
    side = max(3.2, 0.3 * k + 1.2)  # inches per panel: room for a two-digit value in every cell
    ncol = min(3 if k > 10 else 4, len(cms))
    nrow = int(np.ceil(len(cms) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(side * ncol + 1.2, side * nrow + 0.6), squeeze=False, layout="constrained")
    fs = 7 if k <= 12 else 6
    for ax, (m, s) in zip(axes.ravel(), cms):
        cm = np.asarray(s["confusion_matrix"], dtype=float)
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
        for i, j in zip(*np.nonzero(cm >= 0.005)):  # no "0" in every empty cell: the eye finds the errors
            ax.text(j, i, f"{100 * cm[i, j]:.0f}", ha="center", va="center", fontsize=fs,
                    color="white" if cm[i, j] > 0.6 else "black")
        ax.set_title(f"{m}: {100 * s['mean_class_accuracy'][0]:.1f} % mean per-class", fontsize=9)
        ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right" if max(map(len, names)) > 2 else "center",
                      rotation_mode="anchor", fontsize=fs)
        ax.set_yticks(range(k), names, fontsize=fs)
        ax.set_xlabel("predicted class", fontsize=8)
        ax.set_ylabel("true class", fontsize=8)
    for ax in axes.ravel()[len(cms):]:
        ax.axis("off")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="share of the true class's test images")
    fig.suptitle(f"{data}: confusion matrices (rows: true class; values in % of the row)")
    return fig


def misclassified_figure(records: list[dict], out: str | os.PathLike) -> Figure | None:
    """Misclassified test images, one row per method, titled "true -> predicted" (class names).

    ``records`` are clean records of one data set, size and seed carrying ``misclassified``; their
    thumbnails are read from ``out/examples/`` (:func:`visionkit.bench.runner.save_examples`). None
    when there is nothing to show.
    """
    import cv2
    import matplotlib.pyplot as plt

    from ..bench.runner import example_path

    rows = []
    for r in records:
        shown = []
        for ex in r.get("misclassified") or []:
            im = cv2.imread(str(example_path(out, r["key"], ex["index"])), cv2.IMREAD_UNCHANGED)
            if im is not None:
                shown.append((im[..., ::-1] if im.ndim == 3 else im, ex))
        if shown:
            rows.append((r["method"], shown))
    if not rows:
        return None
    ncols = max(len(s) for _, s in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(1.7 * ncols + 1.2, 1.9 * len(rows)), squeeze=False)
    for i, (method, shown) in enumerate(rows):
        for j in range(ncols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if j >= len(shown):
                continue
            im, ex = shown[j]
            ax.imshow(im, cmap="gray" if im.ndim == 2 else None, interpolation="nearest")
            ax.set_title(f"{_short_name(ex['true'])}\n-> {_short_name(ex['pred'])}", fontsize=8, color="#a00")
        axes[i, 0].set_ylabel(method, fontsize=9, rotation=0, ha="right", va="center")
    fig.suptitle("Misclassified test images (true -> predicted)", fontsize=10)
    fig.tight_layout()
    return fig


def _short_name(name: str, width: int = 16) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def report_figures(summary: dict, records: list[dict], data: str, *, max_matrix_classes: int = 20,
                   examples_dir: str | os.PathLike | None = None) -> dict[str, Figure]:
    """The figures of one data set's report, by name, in the report's order.

    Accuracy against cost always; data efficiency with two training sizes or more; robustness when
    there are perturbed records; confusion matrices up to ``max_matrix_classes`` classes (above it
    the report's tables say the same things readably).
    """
    rows, methods, sizes = _rows(summary, data)
    top = sizes[-1]
    figures = {"accuracy_vs_cost": accuracy_vs_cost_figure(summary, data)}
    if len(sizes) > 1:
        figures["data_efficiency"] = data_efficiency_figure(summary, data)
    if any(r["data"] == data and r.get("perturbation") and r["per_class"] == top for r in records):
        figures["robustness"] = robustness_figure(summary, records, data)
    cms = [(m, rows[(data, m, top)]) for m in methods if (data, m, top) in rows]
    if cms and len(cms[0][1]["confusion_matrix"]) <= max_matrix_classes:
        figures["confusion_matrices"] = confusion_figure(cms, data)
    if examples_dir is not None:
        clean = [r for r in records if r["data"] == data and r["per_class"] == top and not r.get("perturbation")]
        if clean:
            seed = min(r["seed"] for r in clean)
            order = {m: i for i, m in enumerate(methods)}
            shown = sorted((r for r in clean if r["seed"] == seed), key=lambda r: order.get(r["method"], len(order)))
            fig = misclassified_figure(shown, examples_dir)
            if fig is not None:
                figures["misclassified"] = fig
    return figures
