"""The report: ``OUT/report.md`` and a self-contained ``OUT/report.html`` (plots embedded as PNG).

Tables: the comparison (mean and spread over seeds), data efficiency with the crossover point where
deep overtakes classical, robustness; plots: accuracy against cost, data-efficiency curves,
robustness curves and confusion matrices.
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .store import ResultStore  # noqa: E402

__all__ = ["write_report", "summarise", "crossover", "comparison_text"]

from ..registry import FAMILY_LABELS  # noqa: E402

FAMILY_STYLE = {"classical": dict(color="tab:blue", marker="o", linestyle="-"),
                "deep": dict(color="tab:red", marker="s", linestyle="--"),
                "transfer": dict(color="tab:green", marker="^", linestyle=":")}


# For these perturbations a smaller number is a stronger perturbation (contrast factor, JPEG quality).
_SMALLER_IS_STRONGER = {"contrast", "jpeg"}


def _by_severity(kind: str, strengths) -> list:
    return sorted(strengths, reverse=kind in _SMALLER_IS_STRONGER)


def _n_sort(n):
    return (1, 0) if n == "all" else (0, int(n))


def summarise(records: list[dict]) -> dict:
    """Group clean runs by (data, method, per_class): mean and std of the metrics over seeds."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("perturbation") is None:
            groups[(r["data"], r["method"], r["per_class"])].append(r)
    out = {}
    for key, rs in groups.items():
        def ms(field):
            v = np.array([r.get(field, np.nan) for r in rs], dtype=float)
            v = v[np.isfinite(v)]
            if not len(v):
                return float("nan"), float("nan")
            # sample standard deviation over seeds (ddof=1, as the benchmark scripts); none from a single
            # seed: NaN, shown as the mean alone
            return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan")

        out[key] = {
            "family": rs[0]["family"],
            "seeds": sorted(r["seed"] for r in rs),
            "n_train": int(np.mean([r["n_train"] for r in rs])),
            **{f: ms(f) for f in ("accuracy", "mean_class_accuracy", "macro_f1", "fit_seconds",
                                  "predict_images_per_second", "peak_memory_mb")},
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
        ax.legend(handles=handles, fontsize=8, loc="lower right")


def _plots(summary: dict, records: list[dict], data: str) -> dict[str, bytes]:
    plots: dict[str, bytes] = {}
    rows = {k: v for k, v in summary.items() if k[0] == data}
    methods = sorted({k[1] for k in rows})
    sizes = sorted({k[2] for k in rows}, key=_n_sort)
    top = sizes[-1]

    # accuracy against cost
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    pts = [(m, max(s["fit_seconds"][0], 1e-3), s["mean_class_accuracy"][0], s) for m in methods if (s := rows.get((data, m, top)))]
    offsets = _label_offsets([p[1] for p in pts], [p[2] for p in pts])
    for (m, x, y, s), dy in zip(pts, offsets):
        st = FAMILY_STYLE[s["family"]]
        ax.errorbar(x, y, yerr=s["mean_class_accuracy"][1], fmt=st["marker"], color=st["color"], capsize=3)
        ax.annotate(m, (x, y), textcoords="offset points", xytext=(5, 4 + dy), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("fit time (s, log scale)")
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
        ax.legend(fontsize=8, ncol=2)
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

    # confusion matrices
    cms = [(m, rows[(data, m, top)]) for m in methods if (data, m, top) in rows]
    if cms:
        ncol = min(4, len(cms))
        nrow = int(np.ceil(len(cms) / ncol))
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 3.3 * nrow), squeeze=False)
        for ax, (m, s) in zip(axes.ravel(), cms):
            cm = s["confusion_matrix"].astype(float)
            cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
            ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
            ax.set_title(f"{m}\n{s['mean_class_accuracy'][0]:.3f}", fontsize=9)
            k = len(cm)
            if k <= 12:
                ax.set_xticks(range(k), [c[:6] for c in s["classes"]], rotation=90, fontsize=6)
                ax.set_yticks(range(k), [c[:8] for c in s["classes"]], fontsize=6)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
            ax.set_xlabel("predicted", fontsize=7)
        for ax in axes.ravel()[len(cms):]:
            ax.axis("off")
        fig.suptitle(f"{data}: confusion matrices (rows: true class, normalised)")
        fig.tight_layout()
        plots["confusion_matrices"] = _fig_png(fig)
    return plots


def _fmt(ms, pct=False, digits=3):
    m, s = ms
    if not np.isfinite(m):
        return "–"
    if pct:
        return f"{100 * m:.1f}" if not np.isfinite(s) else f"{100 * m:.1f} ± {100 * s:.1f}"
    return f"{m:.{digits}g}" if s == 0 or not np.isfinite(s) else f"{m:.{digits}g} ± {s:.2g}"


def _tables(summary: dict, records: list[dict], data: str) -> list[tuple[str, list[str], list[list[str]]]]:
    rows = {k: v for k, v in summary.items() if k[0] == data}
    sizes = sorted({k[2] for k in rows}, key=_n_sort)
    methods = sorted({k[1] for k in rows}, key=lambda m: (rows.get((data, m, sizes[-1]), {}).get("family", ""), m))
    top = sizes[-1]
    tables = []
    head = ["method", "family", "accuracy %", "mean class acc %", "macro-F1", "fit s", "predict img/s",
            "params / features", "peak MB", "seeds", "n_train"]
    body = []
    for m in sorted(methods, key=lambda m: -rows[(data, m, top)]["mean_class_accuracy"][0] if (data, m, top) in rows else 0):
        s = rows.get((data, m, top))
        if not s:
            continue
        body.append([m, FAMILY_LABELS.get(s["family"], s["family"]), _fmt(s["accuracy"], True), _fmt(s["mean_class_accuracy"], True), _fmt(s["macro_f1"]),
                     _fmt(s["fit_seconds"]), _fmt(s["predict_images_per_second"]),
                     f"{s['size']:,} {s['size_kind']}" if s["size"] else "–", _fmt(s["peak_memory_mb"]),
                     ",".join(map(str, s["seeds"])), str(s["n_train"])])
    tables.append((f"Comparison on {data} (n/class = {top}; mean ± std over seeds)", head, body))

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
    return tables


def _atomic_write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def write_report(out: str | os.PathLike, *, title: str = "visionkit: classical vs deep") -> tuple[Path, Path]:
    """Write ``report.md`` (with plots in ``plots/``) and a self-contained ``report.html`` from ``results.jsonl``."""
    out = Path(out)
    records = ResultStore(out).records
    summary = summarise(records)
    datas = sorted({k[0] for k in summary})
    env = records[-1]["env"] if records else {}
    env_line = ", ".join(f"{k} {v}" for k, v in env.items() if v is not None)

    md = [f"# {title}", "", f"{len(records)} evaluations in `results.jsonl`. Environment: {env_line}.", ""]
    parts_html = [f"<h1>{html.escape(title)}</h1>", f"<p>{len(records)} evaluations. Environment: {html.escape(env_line)}.</p>"]
    for data in datas:
        md += [f"## {data}", ""]
        parts_html.append(f"<h2>{html.escape(data)}</h2>")
        for caption, head, body in _tables(summary, records, data):
            md += [f"**{caption}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            md += ["| " + " | ".join(r) + " |" for r in body] + [""]
            parts_html.append(f"<h3>{html.escape(caption)}</h3><div class='scroll'><table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
                              + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body) + "</table></div>")
        for name, png in _plots(summary, records, data).items():
            fname = f"plots/{data.replace('/', '_')}_{name}.png"
            _atomic_write(out / fname, png)
            md += [f"![{name}]({fname})", ""]
            b64 = base64.b64encode(png).decode()
            parts_html.append(f'<figure><img alt="{name}" src="data:image/png;base64,{b64}"><figcaption>{html.escape(name.replace("_", " "))}</figcaption></figure>')
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%}figure{margin:1em 0}"
             "figcaption{color:#666;font-size:12px}.scroll{overflow-x:auto}")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style></head><body>{''.join(parts_html)}</body></html>"
    md_path, html_path = out / "report.md", out / "report.html"
    _atomic_write(md_path, "\n".join(md) + "\n")
    _atomic_write(html_path, page)
    return md_path, html_path
