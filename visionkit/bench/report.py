"""The report: ``OUT/report.md`` and a self-contained ``OUT/report.html`` (plots embedded as PNG).

Tables: the comparison (mean and spread over seeds), data efficiency with the crossover point where
deep overtakes classical, robustness; plots: accuracy against cost, data-efficiency curves,
robustness curves and confusion matrices.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import re
import urllib.parse
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .._atomic import atomic_write  # noqa: E402
from .store import ResultStore  # noqa: E402

__all__ = ["write_report", "summarise", "crossover", "comparison_text", "per_class_accuracy", "most_confused", "MAX_MATRIX_CLASSES"]

from ..registry import FAMILY_LABELS  # noqa: E402

#: Up to this many classes the report draws confusion matrices with values in the cells; above it, tables
#: (per-class accuracy, worst first, and the most confused pairs) say the same things readably.
MAX_MATRIX_CLASSES = 20

FAMILY_STYLE = {"classical": dict(color="tab:blue", marker="o", linestyle="-"),
                "deep": dict(color="tab:red", marker="s", linestyle="--"),
                "transfer": dict(color="tab:green", marker="^", linestyle=":")}


# For these perturbations a smaller number is a stronger perturbation (contrast factor, JPEG quality).
_SMALLER_IS_STRONGER = {"contrast", "jpeg"}


def _by_severity(kind: str, strengths) -> list:
    return sorted(strengths, reverse=kind in _SMALLER_IS_STRONGER)


def _n_sort(n):
    return (1, 0) if n == "all" else (0, int(n))


def _mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of the finite values; std NaN from fewer than two."""
    v = np.array(list(values), dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan")


def summarise(records: list[dict]) -> dict:
    """Group clean runs by (data, method, per_class): mean and std of the metrics over seeds."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("perturbation") is None:
            groups[(r["data"], r["method"], r["per_class"])].append(r)
    out = {}
    for key, rs in groups.items():
        def ms(field):
            # sample standard deviation over seeds (ddof=1, as the benchmark scripts); none from a single
            # seed: NaN, shown as the mean alone
            return _mean_std(r.get(field, np.nan) for r in rs)

        cost = [r["fit_seconds"] + r["predict_seconds"] for r in rs if "fit_seconds" in r and "predict_seconds" in r]
        # records written before PeakMemory counted the whole process tree held the increase above the
        # start under "peak_memory_mb" (0.004 MB for LeNet): not comparable, so not shown
        mem = [r for r in rs if "memory_increase_mb" in r]
        out[key] = {
            "family": rs[0]["family"],
            "seeds": sorted(r["seed"] for r in rs),
            "n_train": int(np.mean([r["n_train"] for r in rs])),
            "n_test": rs[0].get("n_test"),
            **{f: ms(f) for f in ("accuracy", "mean_class_accuracy", "macro_f1", "fit_seconds", "predict_seconds",
                                  "predict_images_per_second")},
            "cost_seconds": _mean_std(cost),
            "peak_memory_mb": _mean_std([r["peak_memory_mb"] for r in mem]),
            "memory_increase_mb": _mean_std([r["memory_increase_mb"] for r in mem]),
            "resolved_params": rs[0].get("resolved_params"),
            "size": rs[0].get("n_parameters", rs[0].get("feature_dim")),
            "size_kind": "params" if "n_parameters" in rs[0] else ("features" if "feature_dim" in rs[0] else ""),
            "confusion_matrix": np.sum([np.array(r["confusion_matrix"]) for r in rs], axis=0),
            "classes": rs[0].get("classes", []),
        }
    return out


def crossover(summary: dict, data: str) -> tuple[str | int | None, dict]:
    """The smallest training size per class from which the best deep method beats the best classical one
    at every larger size; ``None`` if deep never overtakes (or one family is missing)."""
    best: dict[str, dict] = {f: {} for f in FAMILY_STYLE}
    for (d, _m, n), s in summary.items():
        if d == data and s["family"] in best:
            fam = best[s["family"]]
            fam[n] = max(fam.get(n, -1.0), s["mean_class_accuracy"][0])
    common = sorted(set(best["classical"]) & set(best["deep"]), key=_n_sort)
    if not common:
        return None, best
    wins = [best["deep"][n] > best["classical"][n] for n in common]
    for i, n in enumerate(common):
        if all(wins[i:]):
            return n, best
    return None, best


def _crossover_note(cross, best: dict) -> str:
    """One line on who leads where, for the data-efficiency table's title."""
    note = _family_note(cross, best)
    transfer = sorted(set(best.get("transfer", {})) & set(best["classical"]), key=_n_sort)
    if transfer:
        ahead = [n for n in transfer if best["transfer"][n] > best["classical"][n]]
        if len(ahead) == len(transfer):
            note += "; transferred features lead handcrafted ones at every size"
        elif not ahead:
            note += "; handcrafted features lead transferred ones at every size"
        else:
            note += f"; transferred features lead handcrafted ones at n/class = {', '.join(map(str, ahead))}"
    return note


def _family_note(cross, best: dict) -> str:
    if cross is not None:
        return f"deep overtakes classical from n/class = {cross}"
    common = sorted(set(best["classical"]) & set(best["deep"]), key=_n_sort)
    if not common:
        return "one family only: no crossover to report"
    deep_leads = [n for n in common if best["deep"][n] > best["classical"][n]]
    if not deep_leads:
        return f"deep never overtakes classical: classical leads at every size measured, n/class = {', '.join(map(str, common))}"
    return f"deep leads at n/class = {', '.join(map(str, deep_leads))} only, not at every larger size"


def comparison_text(records: list[dict], *, data: str | None = None, methods=None, per_class=None, seeds=None) -> str:
    """The comparison as plain text for a terminal: one row per training size, one column per method.

    Parameters
    ----------
    records : list of dict
        Records of ``results.jsonl`` (``ResultStore(out).records``).
    data : str, optional
        The data set's name; default: every data set in the records, one table each.
    methods, per_class, seeds : sequences, optional
        Keep only these (a store may hold earlier runs); rows follow the order of ``per_class`` as given
        (default: sizes ascending, ``"all"`` last), columns the order of ``methods`` (default: by family).

    Returns
    -------
    str
        The tables (mean per-class accuracy %, ``mean ± std`` only with >= 2 seeds), each followed by
        who leads in words, e.g. "classical leads at every size measured, n/class = 5, 20, all".
    """
    keep = [r for r in records if r.get("perturbation") is None
            and (methods is None or r["method"] in methods)
            and (per_class is None or r["per_class"] in list(per_class))
            and (seeds is None or r["seed"] in list(seeds))]
    summary = summarise(keep)
    out = []
    for d in ([data] if data is not None else sorted({k[0] for k in summary})):
        rows = {k: v for k, v in summary.items() if k[0] == d}
        if not rows:
            continue
        sizes = [n for n in per_class if any(k[2] == n for k in rows)] if per_class is not None else sorted({k[2] for k in rows}, key=_n_sort)
        present = {k[1]: v["family"] for k, v in rows.items()}
        order = list(FAMILY_STYLE)
        cols = ([m for m in methods if m in present] if methods is not None
                else sorted(present, key=lambda m: (order.index(present[m]) if present[m] in order else 9, m)))
        n_test = next((r.get("n_test") for r in keep if r["data"] == d and r.get("n_test")), None)
        n_seeds = max(len(v["seeds"]) for v in rows.values())
        title = f"{d}: mean per-class accuracy %" + (f" on {n_test:,} test images" if n_test else "")
        title += f", mean ± std over {n_seeds} seeds" if n_seeds >= 2 else ", one seed"
        head = ["n/class", "n_train"] + cols
        fam = ["", ""] + [FAMILY_LABELS.get(present[m], present[m]) for m in cols]
        body = []
        for n in sizes:
            got = [rows.get((d, m, n)) for m in cols]
            n_train = next((g["n_train"] for g in got if g), "")
            body.append([str(n), f"{n_train:,}" if n_train != "" else ""] + [_fmt(g["mean_class_accuracy"], True) if g else "–" for g in got])
        widths = [max(len(r[i]) for r in [head, fam] + body) for i in range(len(head))]
        line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
        cross, best = crossover(summary, d)
        out += [title, line(head), line(fam), *map(line, body), _crossover_note(cross, best) + ".", ""]
    return "\n".join(out).rstrip("\n")


def _fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


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


def _plots(summary: dict, records: list[dict], data: str) -> dict[str, bytes]:
    plots: dict[str, bytes] = {}
    rows = {k: v for k, v in summary.items() if k[0] == data}
    methods = sorted({k[1] for k in rows})
    sizes = sorted({k[2] for k in rows}, key=_n_sort)
    top = sizes[-1]

    # accuracy against cost
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
    plots["accuracy_vs_cost"] = _fig_png(fig)

    # data efficiency
    if len(sizes) > 1:
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
        plots["data_efficiency"] = _fig_png(fig)

    # robustness
    pert = [r for r in records if r["data"] == data and r.get("perturbation") and r["per_class"] == top]
    if pert:
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
        plots["robustness"] = _fig_png(fig)

    # confusion matrices, readable ones only: with many classes the tables (per-class accuracy, most
    # confused pairs) replace them
    cms = [(m, rows[(data, m, top)]) for m in methods if (data, m, top) in rows]
    k = len(cms[0][1]["confusion_matrix"]) if cms else 0
    if cms and k <= MAX_MATRIX_CLASSES:
        plots["confusion_matrices"] = _confusion_figure(cms, data)
    return plots


def _confusion_figure(cms: list[tuple[str, dict]], data: str) -> bytes:
    """Row-normalised confusion matrices with the class names on both axes, the values in % and a colour bar."""
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
    return _fig_png(fig)


def _cost(s: dict) -> float:
    """Fit + predict seconds; records without predict time (older ones) give the fit time."""
    c = s.get("cost_seconds", (float("nan"),))[0]
    return c if np.isfinite(c) else s["fit_seconds"][0]


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Accuracy of each true class (row) of a confusion matrix (K, K); NaN for a class with no test image."""
    cm = np.asarray(confusion, dtype=float)
    support = cm.sum(axis=1)
    return np.divide(np.diag(cm), support, out=np.full(len(cm), np.nan), where=support > 0)


def most_confused(confusion: np.ndarray, n: int = 10) -> list[tuple[int, int, int, float]]:
    """The ``n`` largest off-diagonal cells: (true class, predicted class, count, share of the true class).

    Ordered by count, then share, then class indices (so the order is stable); empty cells are left out.
    """
    cm = np.asarray(confusion)
    support = cm.sum(axis=1)
    cells = [(int(i), int(j), int(cm[i, j]), float(cm[i, j] / support[i])) for i, j in zip(*np.nonzero(cm)) if i != j]
    cells.sort(key=lambda c: (-c[2], -c[3], c[0], c[1]))
    return cells[:n]


def _fmt(ms, pct=False, digits=3):
    m, s = ms
    if not np.isfinite(m):
        return "–"
    # a spread only where there is one: NaN from a single seed
    if pct:
        return f"{100 * m:.1f}" if not np.isfinite(s) else f"{100 * m:.1f} ± {100 * s:.1f}"
    return f"{m:.{digits}g}" if not np.isfinite(s) else f"{m:.{digits}g} ± {s:.2g}"


def _tables(summary: dict, records: list[dict], data: str) -> list[tuple[str, list[str], list[list[str]]]]:
    rows = {k: v for k, v in summary.items() if k[0] == data}
    sizes = sorted({k[2] for k in rows}, key=_n_sort)
    methods = sorted({k[1] for k in rows}, key=lambda m: (rows.get((data, m, sizes[-1]), {}).get("family", ""), m))
    top = sizes[-1]
    tables = []
    n_seeds = max(len(s["seeds"]) for s in rows.values())
    spread = f"mean ± std over {n_seeds} seeds" if n_seeds >= 2 else "one seed"
    n_test = next((s["n_test"] for s in rows.values() if s.get("n_test")), None)
    n_classes = max(len(s["classes"]) for s in rows.values())
    head = ["method", "family", "accuracy %", "mean class acc %", "macro-F1", "fit s", "predict s",
            "cost s (fit + predict)", "predict img/s", "params / features", "peak MB in fit", "seeds", "n_train"]
    body = []
    for m in sorted(methods, key=lambda m: -rows[(data, m, top)]["mean_class_accuracy"][0] if (data, m, top) in rows else 0):
        s = rows.get((data, m, top))
        if not s:
            continue
        body.append([m, FAMILY_LABELS.get(s["family"], s["family"]), _fmt(s["accuracy"], True), _fmt(s["mean_class_accuracy"], True), _fmt(s["macro_f1"]),
                     _fmt(s["fit_seconds"]), _fmt(s.get("predict_seconds", (np.nan, np.nan))),
                     _fmt(s.get("cost_seconds", (np.nan, np.nan))), _fmt(s["predict_images_per_second"]),
                     f"{s['size']:,} {s['size_kind']}" if s["size"] else "–", _fmt(s["peak_memory_mb"]),
                     ",".join(map(str, s["seeds"])), str(s["n_train"])])
    tested = f"{n_test:,} test images, " if n_test else ""
    tables.append((f"Comparison on {data} (n/class = {top}; {tested}{n_classes} classes; {spread})", head, body))

    if len(sizes) > 1:
        head = ["method", "family"] + [f"n/class={n}" for n in sizes]
        body = [[m, FAMILY_LABELS.get(fam := rows[next(k for k in rows if k[1] == m)]["family"], fam)] +
                [_fmt(rows[(data, m, n)]["mean_class_accuracy"], True) if (data, m, n) in rows else "–" for n in sizes]
                for m in methods]
        cross, best = crossover(summary, data)
        note = _crossover_note(cross, best)
        tables.append((f"Data efficiency on {data}: mean per-class accuracy % ({note})", head, body))

    pert = [r for r in records if r["data"] == data and r.get("perturbation") and r["per_class"] == top]
    if pert:
        kinds = sorted({r["perturbation"]["kind"] for r in pert})
        conds = [(k, s) for k in kinds for s in _by_severity(k, {r["perturbation"]["strength"] for r in pert if r["perturbation"]["kind"] == k})]
        head = ["method", "clean"] + [f"{k} {s}" for k, s in conds]
        body = []
        for m in methods:
            row = [m, _fmt(rows[(data, m, top)]["mean_class_accuracy"], True) if (data, m, top) in rows else "–"]
            for c in conds:
                v = [r["mean_class_accuracy"] for r in pert if r["method"] == m and (r["perturbation"]["kind"], r["perturbation"]["strength"]) == c]
                row.append(f"{100 * np.mean(v):.1f}" if v else "–")
            body.append(row)
        tables.append((f"Robustness on {data}: mean per-class accuracy % under perturbation", head, body))

    cms = [(m, rows[(data, m, top)]) for m in methods if (data, m, top) in rows]
    if cms and len(cms[0][1]["confusion_matrix"]) > MAX_MATRIX_CLASSES:
        tables += _many_class_tables(cms, data, top)

    recipes = [[m, _recipe_text(rows[(data, m, top)].get("resolved_params"))] for m in methods if (data, m, top) in rows]
    tables.append((f"Recipes on {data}: every parameter each method used (n/class = {top})", ["method", "parameters"], recipes))
    return tables


# what can start markup inside a line: emphasis, code, links and images ([ ] then ( ), table cells,
# strikethrough, math; line-start markup (#, -, +) cannot occur as names are never first on a line
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")


def _md(text: str) -> str:
    """``text`` as literal markdown: HTML characters as entities, markdown punctuation backslash-escaped,
    line breaks as spaces, so that folder, class and method names cannot add markup, links or table cells."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _file_stem(data: str) -> str:
    """``data`` as part of a file name: ``/`` replaced; a long name (a 240-character folder) cut to
    48 ASCII characters and a hash of the whole, so that names stay under the 255-byte limit."""
    stem = data.replace("/", "_")
    if len(os.fsencode(stem)) <= 64:
        return stem
    digest = hashlib.sha256(os.fsencode(data)).hexdigest()[:12]
    return f"{re.sub(r'[^A-Za-z0-9._-]', '', stem)[:48]}-{digest}"


def _many_class_tables(cms: list[tuple[str, dict]], data: str, top) -> list[tuple[str, list[str], list[list[str]]]]:
    """Per-class accuracy (worst first, by the mean over methods) and each method's ten most confused pairs."""
    names = list(cms[0][1]["classes"]) or [str(i) for i in range(len(cms[0][1]["confusion_matrix"]))]
    acc = np.array([per_class_accuracy(s["confusion_matrix"]) for _, s in cms])  # (methods, K)
    support = np.asarray(cms[0][1]["confusion_matrix"]).sum(axis=1)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(np.isfinite(acc), acc, np.nan), axis=0) if len(acc) else acc
    order = sorted(range(len(names)), key=lambda i: (np.nan_to_num(mean[i], nan=2.0), names[i]))
    head = ["class", "test images"] + [m for m, _ in cms] + (["mean"] if len(cms) > 1 else [])
    body = [[names[i], f"{int(support[i]):,}"] + [f"{100 * a:.1f}" if np.isfinite(a) else "–" for a in acc[:, i]]
            + ([f"{100 * mean[i]:.1f}" if np.isfinite(mean[i]) else "–"] if len(cms) > 1 else []) for i in order]
    tables = [(f"Per-class accuracy % on {data} (n/class = {top}), worst first", head, body)]
    head = ["method", "true class", "predicted as", "test images", "% of the true class"]
    body = [[m, names[i], names[j], f"{c:,}", f"{100 * r:.1f}"] for m, s in cms for i, j, c, r in most_confused(s["confusion_matrix"])]
    tables.append((f"The ten most confused pairs of each method on {data} (n/class = {top}; summed over seeds)", head, body))
    return tables


def _recipe_text(params: dict | None) -> str:
    """``key=value, ...`` of a resolved recipe, the network's training recipe last."""
    if not params:
        return "– (not recorded: a run stored before recipes were)" if params is None else "–"
    flat = {k: v for k, v in params.items() if k != "train_config"}
    parts = [f"{k}={_short(v)}" for k, v in flat.items()]
    if "train_config" in params:
        parts.append("training: " + ", ".join(f"{k}={_short(v)}" for k, v in params["train_config"].items()))
    return ", ".join(parts)


def _short(v) -> str:
    import json

    return json.dumps(v, sort_keys=True) if not isinstance(v, str) else v


def _data_line(records: list[dict], data: str) -> str:
    """'540 test images, 10 classes; training sizes 50 to 1,257 images' for the data set's header."""
    rs = [r for r in records if r["data"] == data and r.get("perturbation") is None]
    if not rs:
        return ""
    n_test = rs[-1].get("n_test")
    n_cls = len(rs[-1].get("classes", []))
    n_train = sorted({r["n_train"] for r in rs})
    parts = [f"{n_test:,} test images" if n_test else "", f"{n_cls} classes" if n_cls else "",
             f"{n_train[0]:,} to {n_train[-1]:,} training images" if len(n_train) > 1 else f"{n_train[0]:,} training images"]
    return "Test set: " + ", ".join(p for p in parts if p) + "; every method is tested on the whole test set."


def _atomic_write(path: Path, data: bytes | str) -> None:
    atomic_write(path, data)  # synced, umask respected, no .tmp left on error


def write_report(out: str | os.PathLike, *, title: str = "visionkit: classical vs deep") -> tuple[Path, Path]:
    """Write ``report.md`` (with plots in ``plots/``) and a self-contained ``report.html`` from ``results.jsonl``."""
    out = Path(out)
    records = ResultStore(out).records
    summary = summarise(records)
    datas = sorted({k[0] for k in summary})
    env = records[-1]["env"] if records else {}
    env_line = ", ".join(f"{k} {v}" for k, v in env.items() if v is not None)

    md = [f"# {_md(title)}", "", f"{len(records)} evaluations in `results.jsonl`. Environment: {_md(env_line)}.", ""]
    parts_html = [f"<h1>{html.escape(title)}</h1>", f"<p>{len(records)} evaluations. Environment: {html.escape(env_line)}.</p>"]
    for data in datas:
        md += [f"## {_md(data)}", ""]
        parts_html.append(f"<h2>{html.escape(data)}</h2>")
        about = _data_line(records, data)
        if about:
            md += [about, ""]
            parts_html.append(f"<p>{html.escape(about)}</p>")
        for caption, head, body in _tables(summary, records, data):
            md += [f"**{_md(caption)}**", "", "| " + " | ".join(map(_md, head)) + " |", "|" + "---|" * len(head)]
            md += ["| " + " | ".join(map(_md, r)) + " |" for r in body] + [""]
            wide = " class='wide'" if head[-1] == "parameters" else ""
            box = "scroll tall" if len(body) > 25 else "scroll"  # 101 classes: a box of its own, not 3 screens
            parts_html.append(f"<h3>{html.escape(caption)}</h3><div class='{box}'><table{wide}><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
                              + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body) + "</table></div>")
        for name, png in _plots(summary, records, data).items():
            fname = f"plots/{_file_stem(data)}_{name}.png"
            _atomic_write(out / fname, png)
            md += [f"![{_md(name)}]({urllib.parse.quote(fname)})", ""]
            b64 = base64.b64encode(png).decode()
            parts_html.append(f'<figure><img alt="{name}" src="data:image/png;base64,{b64}"><figcaption>{html.escape(name.replace("_", " "))}</figcaption></figure>')
    notes = ("Notes: cost is the fit time plus the time to predict the whole test set. Peak MB in fit is the resident "
             "memory (RSS) of the process and its worker processes while the method was fitted, what was already resident "
             "included (interpreter, libraries, the data set), so it compares methods run in the same way; workers' shared "
             "pages are counted once per worker. Accuracy is mean ± sample std over seeds where there are two or more.")
    md += [notes, ""]
    parts_html.append(f"<p class='notes'>{html.escape(notes)}</p>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%}figure{margin:1em 0}"
             "figcaption{color:#666;font-size:12px}.scroll{overflow-x:auto}.tall{max-height:420px;overflow-y:auto;display:inline-block}"
             ".tall th{position:sticky;top:0}"
             ".notes{color:#555;font-size:13px}table.wide td{text-align:left;font-family:ui-monospace,monospace;font-size:11px;word-break:break-word}")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style></head><body>{''.join(parts_html)}</body></html>"
    md_path, html_path = out / "report.md", out / "report.html"
    _atomic_write(md_path, "\n".join(md) + "\n")
    _atomic_write(html_path, page)
    return md_path, html_path
