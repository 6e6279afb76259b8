"""Errors of the model classes that callers catch by type."""


class NotFittedError(ValueError, AttributeError, RuntimeError):
    """A model was used (predict, score, save, to_onnx, ...) before ``fit`` or ``load_model``.

    Both a ValueError and an AttributeError, as scikit-learn's own
    ``sklearn.exceptions.NotFittedError`` (so code written for scikit-learn
    catches it), and a RuntimeError, which is what fastdnn raised before 0.3.
    """
