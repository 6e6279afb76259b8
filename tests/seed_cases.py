"""The seed notebook's test-case inputs and its printed outputs.

The ``*_test_case()`` functions are copied exactly from the seed notebook
(``building_a_deep_neural_network``), including their ``np.random.seed`` calls,
so they rebuild the very same inputs. ``EXPECTED`` holds what the seed printed
for each test cell: the printed string of each value (``str(value)`` under
NumPy's default print options) and the same numbers as literal arrays.

Shared by the tests of ``fastdnn.reference`` and of the compiled drop-in
``fastdnn.functional`` (same function names).
"""

import numpy as np

# NumPy's default print options, under which the seed's printed strings were made.
DEFAULT_PRINTOPTIONS = dict(
    precision=8,
    threshold=1000,
    edgeitems=3,
    linewidth=75,
    suppress=False,
    nanstr="nan",
    infstr="inf",
    sign="-",
    floatmode="maxprec",
    legacy=False,
)


def seed_str(value):
    """``str(value)`` under NumPy's default print options."""
    with np.printoptions(**DEFAULT_PRINTOPTIONS):
        return str(value)


# --------------------------------------------------------------------------
# Test-case inputs, exactly as in the seed
# --------------------------------------------------------------------------

def linear_forward_test_case():
    np.random.seed(1)
    A = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)

    return A, W, b


def linear_activation_forward_test_case():
    np.random.seed(2)
    A_prev = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    return A_prev, W, b


def L_model_forward_test_case_2hidden():
    np.random.seed(6)
    X = np.random.randn(5, 4)
    W1 = np.random.randn(4, 5)
    b1 = np.random.randn(4, 1)
    W2 = np.random.randn(3, 4)
    b2 = np.random.randn(3, 1)
    W3 = np.random.randn(1, 3)
    b3 = np.random.randn(1, 1)

    parameters = {"W1": W1,
                  "b1": b1,
                  "W2": W2,
                  "b2": b2,
                  "W3": W3,
                  "b3": b3}

    return X, parameters


def compute_cost_test_case():
    Y = np.asarray([[1, 1, 1]])
    aL = np.array([[.8, .9, 0.4]])

    return Y, aL


def linear_backward_test_case():
    np.random.seed(1)
    dZ = np.random.randn(1, 2)
    A = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    linear_cache = (A, W, b)
    return dZ, linear_cache


def linear_activation_backward_test_case():
    np.random.seed(2)
    dA = np.random.randn(1, 2)
    A = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    Z = np.random.randn(1, 2)
    linear_cache = (A, W, b)
    activation_cache = Z
    linear_activation_cache = (linear_cache, activation_cache)

    return dA, linear_activation_cache


def L_model_backward_test_case():
    np.random.seed(3)
    AL = np.random.randn(1, 2)
    Y = np.array([[1, 0]])

    A1 = np.random.randn(4, 2)
    W1 = np.random.randn(3, 4)
    b1 = np.random.randn(3, 1)
    Z1 = np.random.randn(3, 2)
    linear_cache_activation_1 = ((A1, W1, b1), Z1)

    A2 = np.random.randn(3, 2)
    W2 = np.random.randn(1, 3)
    b2 = np.random.randn(1, 1)
    Z2 = np.random.randn(1, 2)
    linear_cache_activation_2 = ((A2, W2, b2), Z2)

    caches = (linear_cache_activation_1, linear_cache_activation_2)

    return AL, Y, caches


def update_parameters_test_case():
    np.random.seed(2)
    W1 = np.random.randn(3, 4)
    b1 = np.random.randn(3, 1)
    W2 = np.random.randn(1, 3)
    b2 = np.random.randn(1, 1)
    parameters = {"W1": W1,
                  "b1": b1,
                  "W2": W2,
                  "b2": b2}
    np.random.seed(3)
    dW1 = np.random.randn(3, 4)
    db1 = np.random.randn(3, 1)
    dW2 = np.random.randn(1, 3)
    db2 = np.random.randn(1, 1)
    grads = {"dW1": dW1,
             "db1": db1,
             "dW2": dW2,
             "db2": db2}

    return parameters, grads


# --------------------------------------------------------------------------
# What the seed printed, per test cell: name -> (printed string, literal value)
# --------------------------------------------------------------------------

EXPECTED = {
    # In [105]: initialise_parameters(3, 2, 1)
    "initialise_parameters": {
        "W1": ("[[ 0.01624345 -0.00611756 -0.00528172]\n"
               " [-0.01072969  0.00865408 -0.02301539]]",
               np.array([[0.01624345, -0.00611756, -0.00528172],
                         [-0.01072969, 0.00865408, -0.02301539]])),
        "b1": ("[[ 1.74481176]\n"
               " [-0.7612069 ]]",
               np.array([[1.74481176],
                         [-0.7612069]])),
        "W2": ("[[ 0.00319039 -0.0024937 ]]",
               np.array([[0.00319039, -0.0024937]])),
        "b2": ("[[1.46210794]]",
               np.array([[1.46210794]])),
    },
    # In [107]: initialise_parameters_deep([5, 4, 3])
    "initialise_parameters_deep": {
        "W1": ("[[ 1.78862847  0.43650985  0.09649747 -1.8634927  -0.2773882 ]\n"
               " [-0.35475898 -0.08274148 -0.62700068 -0.04381817 -0.47721803]\n"
               " [-1.31386475  0.88462238  0.88131804  1.70957306  0.05003364]\n"
               " [-0.40467741 -0.54535995 -1.54647732  0.98236743 -1.10106763]]",
               np.array([[1.78862847, 0.43650985, 0.09649747, -1.8634927, -0.2773882],
                         [-0.35475898, -0.08274148, -0.62700068, -0.04381817, -0.47721803],
                         [-1.31386475, 0.88462238, 0.88131804, 1.70957306, 0.05003364],
                         [-0.40467741, -0.54535995, -1.54647732, 0.98236743, -1.10106763]])),
        "b1": ("[[-1.18504653]\n"
               " [-0.2056499 ]\n"
               " [ 1.48614836]\n"
               " [ 0.23671627]]",
               np.array([[-1.18504653],
                         [-0.2056499],
                         [1.48614836],
                         [0.23671627]])),
        "W2": ("[[-1.02378514 -0.7129932   0.62524497 -0.16051336]\n"
               " [-0.76883635 -0.23003072  0.74505627  1.97611078]\n"
               " [-1.24412333 -0.62641691 -0.80376609 -2.41908317]]",
               np.array([[-1.02378514, -0.7129932, 0.62524497, -0.16051336],
                         [-0.76883635, -0.23003072, 0.74505627, 1.97611078],
                         [-1.24412333, -0.62641691, -0.80376609, -2.41908317]])),
        "b2": ("[[-0.92379202]\n"
               " [-1.02387576]\n"
               " [ 1.12397796]]",
               np.array([[-0.92379202],
                         [-1.02387576],
                         [1.12397796]])),
    },
    # In [109]: linear_forward
    "linear_forward": {
        "Z": ("[[ 3.26295337 -1.23429987]]",
              np.array([[3.26295337, -1.23429987]])),
    },
    # In [113]: linear_activation_forward, sigmoid then relu
    "linear_activation_forward": {
        "sigmoid": ("[[0.96890023 0.11013289]]",
                    np.array([[0.96890023, 0.11013289]])),
        "relu": ("[[3.43896131 0.        ]]",
                 np.array([[3.43896131, 0.0]])),
    },
    # In [115]: L_model_forward on the 2-hidden-layer case
    "L_model_forward": {
        "AL": ("[[0.03921668 0.70498921 0.19734387 0.04728177]]",
               np.array([[0.03921668, 0.70498921, 0.19734387, 0.04728177]])),
        "len_caches": ("3", 3),
    },
    # In [117]: compute_cost (printed with full float repr)
    "compute_cost": {
        "cost": ("0.41493159961539694", 0.41493159961539694),
    },
    # In [119]: linear_backward
    "linear_backward": {
        "dA_prev": ("[[ 0.51822968 -0.19517421]\n"
                    " [-0.40506361  0.15255393]\n"
                    " [ 2.37496825 -0.89445391]]",
                    np.array([[0.51822968, -0.19517421],
                              [-0.40506361, 0.15255393],
                              [2.37496825, -0.89445391]])),
        "dW": ("[[-0.10076895  1.40685096  1.64992505]]",
               np.array([[-0.10076895, 1.40685096, 1.64992505]])),
        "db": ("[[0.50629448]]",
               np.array([[0.50629448]])),
    },
    # In [123]: linear_activation_backward, sigmoid then relu
    "linear_activation_backward": {
        "sigmoid": {
            "dA_prev": ("[[ 0.11017994  0.01105339]\n"
                        " [ 0.09466817  0.00949723]\n"
                        " [-0.05743092 -0.00576154]]",
                        np.array([[0.11017994, 0.01105339],
                                  [0.09466817, 0.00949723],
                                  [-0.05743092, -0.00576154]])),
            "dW": ("[[ 0.10266786  0.09778551 -0.01968084]]",
                   np.array([[0.10266786, 0.09778551, -0.01968084]])),
            "db": ("[[-0.05729622]]",
                   np.array([[-0.05729622]])),
        },
        "relu": {
            # note the printed "-0." entries: W.T @ dZ with dZ == 0 and W < 0
            "dA_prev": ("[[ 0.44090989 -0.        ]\n"
                        " [ 0.37883606 -0.        ]\n"
                        " [-0.2298228   0.        ]]",
                        np.array([[0.44090989, -0.0],
                                  [0.37883606, -0.0],
                                  [-0.2298228, 0.0]])),
            "dW": ("[[ 0.44513824  0.37371418 -0.10478989]]",
                   np.array([[0.44513824, 0.37371418, -0.10478989]])),
            "db": ("[[-0.20837892]]",
                   np.array([[-0.20837892]])),
        },
    },
    # In [125]: L_model_backward (print_grads shows dW1, db1, dA1)
    "L_model_backward": {
        "dW1": ("[[0.41010002 0.07807203 0.13798444 0.10502167]\n"
                " [0.         0.         0.         0.        ]\n"
                " [0.05283652 0.01005865 0.01777766 0.0135308 ]]",
                np.array([[0.41010002, 0.07807203, 0.13798444, 0.10502167],
                          [0.0, 0.0, 0.0, 0.0],
                          [0.05283652, 0.01005865, 0.01777766, 0.0135308]])),
        "db1": ("[[-0.22007063]\n"
                " [ 0.        ]\n"
                " [-0.02835349]]",
                np.array([[-0.22007063],
                          [0.0],
                          [-0.02835349]])),
        "dA1": ("[[ 0.12913162 -0.44014127]\n"
                " [-0.14175655  0.48317296]\n"
                " [ 0.01663708 -0.05670698]]",
                np.array([[0.12913162, -0.44014127],
                          [-0.14175655, 0.48317296],
                          [0.01663708, -0.05670698]])),
    },
    # In [127]: update_parameters with learning_rate 0.1
    "update_parameters": {
        "W1": ("[[-0.59562069 -0.09991781 -2.14584584  1.82662008]\n"
               " [-1.76569676 -0.80627147  0.51115557 -1.18258802]\n"
               " [-1.0535704  -0.86128581  0.68284052  2.20374577]]",
               np.array([[-0.59562069, -0.09991781, -2.14584584, 1.82662008],
                         [-1.76569676, -0.80627147, 0.51115557, -1.18258802],
                         [-1.0535704, -0.86128581, 0.68284052, 2.20374577]])),
        "b1": ("[[-0.04659241]\n"
               " [-1.28888275]\n"
               " [ 0.53405496]]",
               np.array([[-0.04659241],
                         [-1.28888275],
                         [0.53405496]])),
        "W2": ("[[-0.55569196  0.0354055   1.32964895]]",
               np.array([[-0.55569196, 0.0354055, 1.32964895]])),
        "b2": ("[[-0.84610769]]",
               np.array([[-0.84610769]])),
    },
}
