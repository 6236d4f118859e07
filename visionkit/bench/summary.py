"""Statistics of the results: means and spreads over seeds, the crossover, and the comparison as text.

No drawing here: :mod:`visionkit.viz.report` draws the report's figures from :func:`summarise`'s
output and :mod:`visionkit.bench.report` writes the tables, markdown and HTML.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..registry import FAMILY_LABELS

__all__ = ["summarise", "crossover", "comparison_text", "per_class_accuracy", "most_confused", "FAMILIES"]

#: The method families, in the order tables and legends show them.
FAMILIES = ("classical", "deep", "transfer")

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
    best: dict[str, dict] = {f: {} for f in FAMILIES}
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
        order = list(FAMILIES)
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
