"""The benchmark harness: classical and deep methods on the same images, splits and seeds."""

from .metrics import PeakMemory, classification_metrics, environment
from .perturb import DEFAULT_STRENGTHS, PERTURBATIONS, perturb
from .report import MAX_MATRIX_CLASSES, write_report
from .runner import count_size, run_experiment, sample_per_class
from .specs import DataSplit, load_data, stratified_split
from .store import ResultStore, run_key
from .summary import comparison_text, crossover, most_confused, per_class_accuracy, summarise

__all__ = [
    "DataSplit",
    "load_data",
    "stratified_split",
    "run_experiment",
    "sample_per_class",
    "count_size",
    "ResultStore",
    "run_key",
    "perturb",
    "PERTURBATIONS",
    "DEFAULT_STRENGTHS",
    "classification_metrics",
    "PeakMemory",
    "environment",
    "write_report",
    "summarise",
    "crossover",
    "comparison_text",
    "per_class_accuracy",
    "most_confused",
    "MAX_MATRIX_CLASSES",
]
