"""losscookbook: loss functions and activations for PyTorch, validated and explained.

Every loss is a function ``xxx_loss(input, target, *, ..., reduction="mean")`` and a module
``XxxLoss``; the chapters of the book explain each family and check its rules of thumb.
"""

from . import data, metrics, plotting, training
from .smoothing import (
    BinaryCrossEntropyWithSmoothing,
    DistillationLoss,
    LabelSmoothingCrossEntropy,
    binary_cross_entropy_with_smoothing,
    distillation_loss,
    label_smoothing_cross_entropy,
    smooth_labels,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # smoothing
    "smooth_labels",
    "label_smoothing_cross_entropy",
    "LabelSmoothingCrossEntropy",
    "binary_cross_entropy_with_smoothing",
    "BinaryCrossEntropyWithSmoothing",
    "distillation_loss",
    "DistillationLoss",
]

from . import classic, regression
from .classic import (
    ExponentialLoss,
    HingeLoss,
    LogisticLoss,
    MulticlassHingeLoss,
    exponential_loss,
    hinge_loss,
    logistic_loss,
    multiclass_hinge_loss,
)
from .regression import (
    GaussianNLLLoss,
    HuberLoss,
    LogCoshLoss,
    MeanAbsoluteErrorLoss,
    MeanSquaredErrorLoss,
    QuantileLoss,
    SmoothL1Loss,
    gaussian_nll_loss,
    huber_loss,
    log_cosh_loss,
    mae_loss,
    mse_loss,
    quantile_loss,
    smooth_l1_loss,
)

__all__ += [
    # regression
    "mse_loss",
    "MeanSquaredErrorLoss",
    "mae_loss",
    "MeanAbsoluteErrorLoss",
    "huber_loss",
    "HuberLoss",
    "smooth_l1_loss",
    "SmoothL1Loss",
    "log_cosh_loss",
    "LogCoshLoss",
    "quantile_loss",
    "QuantileLoss",
    "gaussian_nll_loss",
    "GaussianNLLLoss",
    # classic
    "hinge_loss",
    "HingeLoss",
    "logistic_loss",
    "LogisticLoss",
    "exponential_loss",
    "ExponentialLoss",
    "multiclass_hinge_loss",
    "MulticlassHingeLoss",
]

from .activations import (
    GELU,
    Maxout,
    dead_unit_fraction,
    dead_units,
    derivative,
    gelu,
    sign_coherence,
)

__all__ += [
    # activations
    "gelu",
    "GELU",
    "Maxout",
    "derivative",
    "dead_units",
    "dead_unit_fraction",
    "sign_coherence",
]
