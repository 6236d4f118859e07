"""The report: ``OUT/report.md`` and a self-contained ``OUT/report.html`` (plots embedded as PNG).

Tables: the comparison (mean and spread over seeds), data efficiency with the crossover point where
deep overtakes classical, robustness, per-class accuracy when there are many classes, the recipes;
plots (:mod:`visionkit.viz.report`): accuracy against cost, data-efficiency curves, robustness
curves and confusion matrices. The statistics are :mod:`visionkit.bench.summary`'s.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._atomic import atomic_write
from ..registry import FAMILY_LABELS
from .store import ResultStore
from .summary import _by_severity, _crossover_note, _fmt, _n_sort, crossover, most_confused, per_class_accuracy, summarise

__all__ = ["write_report", "MAX_MATRIX_CLASSES"]

#: Up to this many classes the report draws confusion matrices with values in the cells; above it, tables
#: (per-class accuracy, worst first, and the most confused pairs) say the same things readably.
MAX_MATRIX_CLASSES = 20


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


#: The closing notes of every report.
NOTES = ("Notes: cost is the fit time plus the time to predict the whole test set. Peak MB in fit is the resident "
         "memory (RSS) of the process and its worker processes while the method was fitted, what was already resident "
         "included (interpreter, libraries, the data set), so it compares methods run in the same way; workers' shared "
         "pages are counted once per worker. Accuracy is mean ± sample std over seeds where there are two or more.")

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
          "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
          "th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%}figure{margin:1em 0}"
          "figcaption{color:#666;font-size:12px}.scroll{overflow-x:auto}.tall{max-height:420px;overflow-y:auto;display:inline-block}"
          ".tall th{position:sticky;top:0}"
          ".notes{color:#555;font-size:13px}table.wide td{text-align:left;font-family:ui-monospace,monospace;font-size:11px;word-break:break-word}")


@dataclass
class _Section:
    """One data set's part of the report: its header line, tables and plots (PNG bytes by name)."""

    data: str
    about: str
    tables: list[tuple[str, list[str], list[list[str]]]]
    plots: dict[str, bytes]

    def plot_file(self, name: str) -> str:
        return f"plots/{_file_stem(self.data)}_{name}.png"


def _fig_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _section(summary: dict, records: list[dict], data: str, out: Path | None = None) -> _Section:
    # matplotlib loads when a report is drawn, not with visionkit.bench
    from ..viz.report import report_figures

    figures = report_figures(summary, records, data, max_matrix_classes=MAX_MATRIX_CLASSES, examples_dir=out)
    return _Section(data, _data_line(records, data), _tables(summary, records, data),
                    {name: _fig_png(fig) for name, fig in figures.items()})


def _markdown(title: str, n_records: int, env_line: str, sections: list[_Section]) -> str:
    md = [f"# {_md(title)}", "", f"{n_records} evaluations in `results.jsonl`. Environment: {_md(env_line)}.", ""]
    for sec in sections:
        md += [f"## {_md(sec.data)}", ""]
        if sec.about:
            md += [sec.about, ""]
        for caption, head, body in sec.tables:
            md += [f"**{_md(caption)}**", "", "| " + " | ".join(map(_md, head)) + " |", "|" + "---|" * len(head)]
            md += ["| " + " | ".join(map(_md, r)) + " |" for r in body] + [""]
        for name in sec.plots:
            md += [f"![{_md(name)}]({urllib.parse.quote(sec.plot_file(name))})", ""]
    md += [NOTES, ""]
    return "\n".join(md) + "\n"


def _html(title: str, n_records: int, env_line: str, sections: list[_Section]) -> str:
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{n_records} evaluations. Environment: {html.escape(env_line)}.</p>"]
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.data)}</h2>")
        if sec.about:
            parts.append(f"<p>{html.escape(sec.about)}</p>")
        for caption, head, body in sec.tables:
            wide = " class='wide'" if head[-1] == "parameters" else ""
            box = "scroll tall" if len(body) > 25 else "scroll"  # 101 classes: a box of its own, not 3 screens
            parts.append(f"<h3>{html.escape(caption)}</h3><div class='{box}'><table{wide}><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
                         + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body) + "</table></div>")
        for name, png in sec.plots.items():
            b64 = base64.b64encode(png).decode()
            parts.append(f'<figure><img alt="{name}" src="data:image/png;base64,{b64}"><figcaption>{html.escape(name.replace("_", " "))}</figcaption></figure>')
    parts.append(f"<p class='notes'>{html.escape(NOTES)}</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body>{''.join(parts)}</body></html>")


def write_report(out: str | os.PathLike, *, title: str = "visionkit: classical vs deep") -> tuple[Path, Path]:
    """Write ``report.md`` (with plots in ``plots/``) and a self-contained ``report.html`` from ``results.jsonl``.

    Every file is written atomically (:func:`visionkit._atomic.atomic_write`).
    """
    out = Path(out)
    records = ResultStore(out).records
    summary = summarise(records)
    env = records[-1]["env"] if records else {}
    env_line = ", ".join(f"{k} {v}" for k, v in env.items() if v is not None)
    sections = []
    for data in sorted({k[0] for k in summary}):
        sections.append(sec := _section(summary, records, data, out))
        for name, png in sec.plots.items():
            atomic_write(out / sec.plot_file(name), png)
    md_path, html_path = out / "report.md", out / "report.html"
    atomic_write(md_path, _markdown(title, len(records), env_line, sections))
    atomic_write(html_path, _html(title, len(records), env_line, sections))
    return md_path, html_path
