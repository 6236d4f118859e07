"""The course's lessons as tested code (ENSTA 2024, "Introduction au deep learning", course 1).

- :mod:`.mlp`: the MLP family ``f(x) = A_Q φ(... φ(A_1 x + b_1) ...) + b_Q`` and its parameter count.
- :mod:`.memorize`: the hand-built ReLU network that memorises any labelled points of Z^D.
- :mod:`.double_descent`: test error against model size for random-features regression.
- :mod:`.optim`: gradient descent with halving steps, the unbiased stochastic gradient, mini-batch SGD.
- :mod:`.boundaries`: decision boundaries in 2-D of one neuron, four ReLU neurons and a deeper MLP.
"""

from __future__ import annotations

from .boundaries import BoundaryNet, boundary_gallery, decision_boundary_figure, fit_boundary_nets, toy_dataset
from .double_descent import (
    DoubleDescentCurve,
    digits_double_descent,
    double_descent_curve,
    fashion_mnist_double_descent,
    plot_double_descent,
    random_relu_features,
)
from .mlp import MLP, check_dims, mlp, mlp_formula, mlp_parameter_count, relu
from .optim import (
    DigitsSGDResult,
    GDResult,
    SGDHistory,
    expected_stochastic_gradient,
    gradient_descent,
    least_squares,
    per_example_gradients,
    plot_loss_curve,
    sample_stochastic_gradients,
    stochastic_gradient,
    train_mlp_on_digits,
    train_sgd,
)
from .memorize import (
    MemorizeComparison,
    block_sum_matrix,
    compare_memorizing_and_trained,
    digits_binary,
    memorizing_network,
    memorizing_parameters,
    plot_memorize_profile,
    predict_sign,
)

__all__ = [
    "MLP", "mlp", "relu", "mlp_parameter_count", "mlp_formula", "check_dims",
    "GDResult", "gradient_descent", "least_squares", "per_example_gradients", "stochastic_gradient",
    "expected_stochastic_gradient", "sample_stochastic_gradients", "SGDHistory", "train_sgd", "plot_loss_curve", "train_mlp_on_digits", "DigitsSGDResult",
    "block_sum_matrix", "memorizing_parameters", "memorizing_network", "predict_sign", "digits_binary",
    "MemorizeComparison", "compare_memorizing_and_trained", "plot_memorize_profile",
    "random_relu_features", "DoubleDescentCurve", "double_descent_curve", "digits_double_descent",
    "fashion_mnist_double_descent", "plot_double_descent",
    "toy_dataset", "BoundaryNet", "fit_boundary_nets", "decision_boundary_figure", "boundary_gallery",
]
