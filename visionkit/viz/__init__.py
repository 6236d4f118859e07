"""Side-by-side figures (matplotlib, headless Agg): each function returns a Figure."""

from .figures import harris_steps_figure, save_figure, sobel_harris_figure

__all__ = ["sobel_harris_figure", "harris_steps_figure", "save_figure"]
