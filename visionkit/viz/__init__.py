"""Side-by-side figures (matplotlib, headless Agg): each function returns a Figure.

``figures`` (Sobel, Harris steps, saving) loads with the package; the figures of the bag of visual
words (``bovw``, ``overview``: scikit-learn) and of networks (``deep``, ``network``: torch) load on
first use, as do the benchmark report's figures (``report``).
"""

import importlib

from .figures import harris_steps_figure, save_figure, show_panel, sobel_harris_figure

_LAZY_MODULES = {
    "bovw": ("bovw_figure", "word_assignments"),
    "overview": ("overview_figure", "word_map_figure", "default_word_model"),
    "deep": ("grad_cam", "attention_maps", "attention_rollout"),
    "network": ("network_figure", "filter_grid"),
    "report": ("accuracy_vs_cost_figure", "data_efficiency_figure", "robustness_figure", "confusion_figure", "report_figures",
               "misclassified_figure", "FAMILY_STYLE"),
    "scattering": ("wavelet_tiles", "scattering_filters_figure"),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

__all__ = ["sobel_harris_figure", "harris_steps_figure", "save_figure", "show_panel", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
