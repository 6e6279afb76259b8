"""Course 2 functions of ``fastdnn.reference`` against the course's PUBLISHED values.

Inputs are the course's own test-case builders, copied exactly (they call
``np.random.seed``); expected values are what the course's notebooks printed
or its ``public_tests.py`` assert. Sources (GitHub copies of the course
material, read through the code index):

- [OPT-TC]  amanchadha/coursera-deep-learning-specialization,
            "C2 - Improving Deep Neural Networks .../Week 2/testCases.py"
- [OPT-NB]  HarryGN/Improving-Deep-Neural-Networks-Hyperparameter-Tuning-Regularization-and-Optimization,
            Optimization_methods.ipynb (current version; printed outputs, graded "All test passed")
- [OPT-PT]  the course's Optimization public_tests.py (update_lr_test,
            schedule_lr_decay_test, random_mini_batches_test); the index
            returned the file (id 163957078) without naming its repository
- [REG-TC]  amanchadha/..., ".../Week 1/Regularization/testCases.py"
- [REG-MD]  SSQ/Coursera-Ng-Improving-Deep-Neural-Networks-Hyperparameter-tuning-Regularization-and-Optimization,
            "Week 1 PA 2/Regularization/Regularization.md" (printed outputs and
            "Expected Output" tables)
- [REG-PT]  the course's Regularization public_tests.py value 1.7864859451590758
            (also printed in the course notebook export id 21291407238); the
            index gave no repository
- [GC-TC]   amanchadha/..., ".../Week 1/Gradient Checking/testCases.py"
- [GC-UT]   amanchadha/..., ".../Week 1/Gradient Checking/gc_utils.py"
- [GC-PY]   kiyan-rezaee/Improving-Deep-Neural-Networks-Hyperparameter-Tuning-Regularization-and-Optimization,
            Gradient_Checking.py (current notebook as a script: the buggy
            backward_propagation_n, the message format and
            ``expected_values = [0.2850931567761623, 1.1890913024229996e-07]``)
- [GC-MD]   SSQ/..., "Week 1 PA 3/Gradient+Checking.md" ("Expected output":
            difference = 0.285093156781)
- [INIT-PT] the course's Initialization public_tests.py (zeros/random on
            [3, 2, 1], He on [3, 1, 2]); the index returned it (id 56667657031)
            without naming its repository
- [INIT-NB] the older Initialization notebook's "Expected Output" for
            ``initialize_parameters_he([2, 4, 1])``, quoted identically by many
            copies in the index (e.g. ids 42486365462, 2704503830); no
            repository named

Not checked against a published value (none found that fits): the old
Optimization_methods_v1b "Expected Output" table for the default Adam case.
Its W2[2, 1] = -1.09245036 is what epsilon INSIDE the square root gives
(-1.0924503628); the course's current tests and notebook use epsilon outside
(-1.0924499074, printed by students as -1.09244991), as this reference does.
That case is covered by the v/s/v_corrected relations below instead.
"""

import io
import contextlib
import math

import numpy as np

import fastdnn.reference as ref

ATOL = 5e-9  # values printed with 8 decimals


def close(got, expected, atol=ATOL):
    got = np.asarray(got, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)


# --------------------------------------------------------------------------
# Course test-case builders, copied from [OPT-TC], [REG-TC], [GC-TC]
# --------------------------------------------------------------------------

def update_parameters_with_gd_test_case():
    np.random.seed(1)
    learning_rate = 0.01
    W1 = np.random.randn(2,3)
    b1 = np.random.randn(2,1)
    W2 = np.random.randn(3,3)
    b2 = np.random.randn(3,1)

    dW1 = np.random.randn(2,3)
    db1 = np.random.randn(2,1)
    dW2 = np.random.randn(3,3)
    db2 = np.random.randn(3,1)

    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}

    return parameters, grads, learning_rate


def random_mini_batches_test_case():
    np.random.seed(1)
    mini_batch_size = 64
    X = np.random.randn(12288, 148)
    Y = np.random.randn(1, 148) < 0.5
    return X, Y, mini_batch_size


def initialize_velocity_test_case():
    np.random.seed(1)
    W1 = np.random.randn(2,3)
    b1 = np.random.randn(2,1)
    W2 = np.random.randn(3,3)
    b2 = np.random.randn(3,1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    return parameters


def update_parameters_with_momentum_test_case():
    np.random.seed(1)
    W1 = np.random.randn(2,3)
    b1 = np.random.randn(2,1)
    W2 = np.random.randn(3,3)
    b2 = np.random.randn(3,1)

    dW1 = np.random.randn(2,3)
    db1 = np.random.randn(2,1)
    dW2 = np.random.randn(3,3)
    db2 = np.random.randn(3,1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    v = {'dW1': np.array([[ 0.,  0.,  0.],
        [ 0.,  0.,  0.]]), 'dW2': np.array([[ 0.,  0.,  0.],
        [ 0.,  0.,  0.],
        [ 0.,  0.,  0.]]), 'db1': np.array([[ 0.],
        [ 0.]]), 'db2': np.array([[ 0.],
        [ 0.],
        [ 0.]])}
    return parameters, grads, v


initialize_adam_test_case = initialize_velocity_test_case  # identical body in [OPT-TC]


def update_parameters_with_adam_test_case():
    np.random.seed(1)
    v, s = ({'dW1': np.array([[ 0.,  0.,  0.],
         [ 0.,  0.,  0.]]), 'dW2': np.array([[ 0.,  0.,  0.],
         [ 0.,  0.,  0.],
         [ 0.,  0.,  0.]]), 'db1': np.array([[ 0.],
         [ 0.]]), 'db2': np.array([[ 0.],
         [ 0.],
         [ 0.]])}, {'dW1': np.array([[ 0.,  0.,  0.],
         [ 0.,  0.,  0.]]), 'dW2': np.array([[ 0.,  0.,  0.],
         [ 0.,  0.,  0.],
         [ 0.,  0.,  0.]]), 'db1': np.array([[ 0.],
         [ 0.]]), 'db2': np.array([[ 0.],
         [ 0.],
         [ 0.]])})
    W1 = np.random.randn(2,3)
    b1 = np.random.randn(2,1)
    W2 = np.random.randn(3,3)
    b2 = np.random.randn(3,1)

    dW1 = np.random.randn(2,3)
    db1 = np.random.randn(2,1)
    dW2 = np.random.randn(3,3)
    db2 = np.random.randn(3,1)

    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}

    return parameters, grads, v, s


def compute_cost_with_regularization_test_case():
    np.random.seed(1)
    Y_assess = np.array([[1, 1, 0, 1, 0]])
    W1 = np.random.randn(2, 3)
    b1 = np.random.randn(2, 1)
    W2 = np.random.randn(3, 2)
    b2 = np.random.randn(3, 1)
    W3 = np.random.randn(1, 3)
    b3 = np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    a3 = np.array([[ 0.40682402,  0.01629284,  0.16722898,  0.10118111,  0.40682402]])
    return a3, Y_assess, parameters


def backward_propagation_with_regularization_test_case():
    np.random.seed(1)
    X_assess = np.random.randn(3, 5)
    Y_assess = np.array([[1, 1, 0, 1, 0]])
    cache = (np.array([[-1.52855314,  3.32524635,  2.13994541,  2.60700654, -0.75942115],
         [-1.98043538,  4.1600994 ,  0.79051021,  1.46493512, -0.45506242]]),
  np.array([[ 0.        ,  3.32524635,  2.13994541,  2.60700654,  0.        ],
         [ 0.        ,  4.1600994 ,  0.79051021,  1.46493512,  0.        ]]),
  np.array([[-1.09989127, -0.17242821, -0.87785842],
         [ 0.04221375,  0.58281521, -1.10061918]]),
  np.array([[ 1.14472371],
         [ 0.90159072]]),
  np.array([[ 0.53035547,  5.94892323,  2.31780174,  3.16005701,  0.53035547],
         [-0.69166075, -3.47645987, -2.25194702, -2.65416996, -0.69166075],
         [-0.39675353, -4.62285846, -2.61101729, -3.22874921, -0.39675353]]),
  np.array([[ 0.53035547,  5.94892323,  2.31780174,  3.16005701,  0.53035547],
         [ 0.        ,  0.        ,  0.        ,  0.        ,  0.        ],
         [ 0.        ,  0.        ,  0.        ,  0.        ,  0.        ]]),
  np.array([[ 0.50249434,  0.90085595],
         [-0.68372786, -0.12289023],
         [-0.93576943, -0.26788808]]),
  np.array([[ 0.53035547],
         [-0.69166075],
         [-0.39675353]]),
  np.array([[-0.3771104 , -4.10060224, -1.60539468, -2.18416951, -0.3771104 ]]),
  np.array([[ 0.40682402,  0.01629284,  0.16722898,  0.10118111,  0.40682402]]),
  np.array([[-0.6871727 , -0.84520564, -0.67124613]]),
  np.array([[-0.0126646]]))
    return X_assess, Y_assess, cache


def forward_propagation_with_dropout_test_case():
    np.random.seed(1)
    X_assess = np.random.randn(3, 5)
    W1 = np.random.randn(2, 3)
    b1 = np.random.randn(2, 1)
    W2 = np.random.randn(3, 2)
    b2 = np.random.randn(3, 1)
    W3 = np.random.randn(1, 3)
    b3 = np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}

    return X_assess, parameters


def backward_propagation_with_dropout_test_case():
    np.random.seed(1)
    X_assess = np.random.randn(3, 5)
    Y_assess = np.array([[1, 1, 0, 1, 0]])
    cache = (np.array([[-1.52855314,  3.32524635,  2.13994541,  2.60700654, -0.75942115],
           [-1.98043538,  4.1600994 ,  0.79051021,  1.46493512, -0.45506242]]), np.array([[ True, False,  True,  True,  True],
           [ True,  True,  True,  True, False]], dtype=bool), np.array([[ 0.        ,  0.        ,  4.27989081,  5.21401307,  0.        ],
           [ 0.        ,  8.32019881,  1.58102041,  2.92987024,  0.        ]]), np.array([[-1.09989127, -0.17242821, -0.87785842],
           [ 0.04221375,  0.58281521, -1.10061918]]), np.array([[ 1.14472371],
           [ 0.90159072]]), np.array([[ 0.53035547,  8.02565606,  4.10524802,  5.78975856,  0.53035547],
           [-0.69166075, -1.71413186, -3.81223329, -4.61667916, -0.69166075],
           [-0.39675353, -2.62563561, -4.82528105, -6.0607449 , -0.39675353]]), np.array([[ True, False,  True, False,  True],
           [False,  True, False,  True,  True],
           [False, False,  True, False, False]], dtype=bool), np.array([[ 1.06071093,  0.        ,  8.21049603,  0.        ,  1.06071093],
           [ 0.        ,  0.        ,  0.        ,  0.        ,  0.        ],
           [ 0.        ,  0.        ,  0.        ,  0.        ,  0.        ]]), np.array([[ 0.50249434,  0.90085595],
           [-0.68372786, -0.12289023],
           [-0.93576943, -0.26788808]]), np.array([[ 0.53035547],
           [-0.69166075],
           [-0.39675353]]), np.array([[-0.7415562 , -0.0126646 , -5.65469333, -0.0126646 , -0.7415562 ]]), np.array([[ 0.32266394,  0.49683389,  0.00348883,  0.49683389,  0.32266394]]), np.array([[-0.6871727 , -0.84520564, -0.67124613]]), np.array([[-0.0126646]]))


    return X_assess, Y_assess, cache


def gradient_check_n_test_case():
    np.random.seed(1)
    x = np.random.randn(4,3)
    y = np.array([1, 1, 0])
    W1 = np.random.randn(5,4)
    b1 = np.random.randn(5,1)
    W2 = np.random.randn(3,5)
    b2 = np.random.randn(3,1)
    W3 = np.random.randn(1,3)
    b3 = np.random.randn(1,1)
    parameters = {"W1": W1,
                  "b1": b1,
                  "W2": W2,
                  "b2": b2,
                  "W3": W3,
                  "b3": b3}


    return x, y, parameters


# The course's gradient-check forward/backward, copied from [GC-PY] (with its
# two deliberate bugs in dW2 and db1 unless ``fixed``).

def _relu(x):
    return np.maximum(0, x)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def forward_propagation_n(X, Y, parameters):
    m = X.shape[1]
    W1 = parameters["W1"]
    b1 = parameters["b1"]
    W2 = parameters["W2"]
    b2 = parameters["b2"]
    W3 = parameters["W3"]
    b3 = parameters["b3"]

    # LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID
    Z1 = np.dot(W1, X) + b1
    A1 = _relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = _relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = _sigmoid(Z3)

    # Cost
    logprobs = np.multiply(-np.log(A3),Y) + np.multiply(-np.log(1 - A3), 1 - Y)
    cost = 1./m * np.sum(logprobs)

    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)

    return cost, cache


def backward_propagation_n(X, Y, cache, fixed=False):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache

    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T)
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)

    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1. / m * np.dot(dZ2, A1.T) * (1 if fixed else 2)
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = (1. if fixed else 4.) / m * np.sum(dZ1, axis=1, keepdims=True)

    gradients = {"dZ3": dZ3, "dW3": dW3, "db3": db3,
                 "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
                 "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}

    return gradients


# --------------------------------------------------------------------------
# Initialization
# --------------------------------------------------------------------------

def test_initialize_parameters_zeros():
    # [INIT-PT] initialize_parameters_zeros_test
    parameters = ref.initialize_parameters_zeros([3, 2, 1])
    expected = {"W1": np.zeros((2, 3)), "b1": np.zeros((2, 1)),
                "W2": np.zeros((1, 2)), "b2": np.zeros((1, 1))}
    assert sorted(parameters) == sorted(expected)
    for key, value in expected.items():
        assert parameters[key].dtype == np.float64
        np.testing.assert_array_equal(parameters[key], value)
        assert parameters[key].shape == value.shape


def test_initialize_parameters_random():
    # [INIT-PT] initialize_parameters_random_test (also the old notebook's printed output)
    parameters = ref.initialize_parameters_random([3, 2, 1])
    close(parameters["W1"], [[17.88628473, 4.36509851, 0.96497468],
                             [-18.63492703, -2.77388203, -3.54758979]])
    close(parameters["b1"], [[0.], [0.]])
    close(parameters["W2"], [[-0.82741481, -6.27000677]])
    close(parameters["b2"], [[0.]])


def test_initialize_parameters_he():
    # [INIT-PT] initialize_parameters_he_test, layer_dims = [3, 1, 2]
    parameters = ref.initialize_parameters_he([3, 1, 2])
    close(parameters["W1"], [[1.46040903, 0.3564088, 0.07878985]])
    close(parameters["b1"], [[0.]])
    close(parameters["W2"], [[-2.63537665], [-0.39228616]])
    close(parameters["b2"], [[0.], [0.]])
    # [INIT-NB] initialize_parameters_he([2, 4, 1])
    parameters = ref.initialize_parameters_he([2, 4, 1])
    close(parameters["W1"], [[1.78862847, 0.43650985],
                             [0.09649747, -1.8634927],
                             [-0.2773882, -0.35475898],
                             [-0.08274148, -0.62700068]])
    close(parameters["b1"], np.zeros((4, 1)))
    close(parameters["W2"], [[-0.03098412, -0.33744411, -0.92904268, 0.62552248]])
    close(parameters["b2"], [[0.]])


# --------------------------------------------------------------------------
# Optimization
# --------------------------------------------------------------------------

def test_update_parameters_with_gd():
    # [OPT-NB] cell after "GRADED FUNCTION: update_parameters_with_gd", inputs [OPT-TC]
    parameters, grads, learning_rate = update_parameters_with_gd_test_case()
    learning_rate = 0.01
    result = ref.update_parameters_with_gd(parameters, grads, learning_rate)
    assert result is parameters  # the course updates the dict it is given
    close(result["W1"], [[1.63535156, -0.62320365, -0.53718766],
                         [-1.07799357, 0.85639907, -2.29470142]])
    close(result["b1"], [[1.74604067], [-0.75184921]])
    close(result["W2"], [[0.32171798, -0.25467393, 1.46902454],
                         [-2.05617317, -0.31554548, -0.3756023],
                         [1.1404819, -1.09976462, -0.1612551]])
    close(result["b2"], [[-0.88020257], [0.02561572], [0.57539477]])


def test_random_mini_batches_course_case():
    # [OPT-NB]: random_mini_batches_test_case() from [OPT-TC], printed shapes and sanity check
    t_X, t_Y, mini_batch_size = random_mini_batches_test_case()
    mini_batches = ref.random_mini_batches(t_X, t_Y, mini_batch_size)
    assert [mb[0].shape for mb in mini_batches] == [(12288, 64), (12288, 64), (12288, 20)]
    assert [mb[1].shape for mb in mini_batches] == [(1, 64), (1, 64), (1, 20)]
    close(mini_batches[0][0][0][0:3], [0.90085595, -0.7612069, 0.2344157])


def test_random_mini_batches_notebook_asserts():
    # [OPT-NB]: the notebook's own assert cell after the exercise
    np.random.seed(1)
    mini_batch_size = 64
    nx = 12288
    m = 148
    X = np.array([x for x in range(nx * m)]).reshape((m, nx)).T
    Y = np.random.randn(1, m) < 0.5

    mini_batches = ref.random_mini_batches(X, Y, mini_batch_size)
    n_batches = len(mini_batches)

    assert n_batches == math.ceil(m / mini_batch_size)
    for k in range(n_batches - 1):
        assert mini_batches[k][0].shape == (nx, mini_batch_size)
        assert mini_batches[k][1].shape == (1, mini_batch_size)
        assert np.sum(np.sum(mini_batches[k][0] - mini_batches[k][0][0], axis=0)) == ((nx * (nx - 1) / 2) * mini_batch_size)
    assert mini_batches[n_batches - 1][0].shape == (nx, m % mini_batch_size)
    assert np.allclose(mini_batches[0][0][0][0:3], [294912, 86016, 454656])
    assert np.allclose(mini_batches[-1][0][-1][0:3], [1425407, 1769471, 897023])


def test_random_mini_batches_public_test():
    # [OPT-PT] random_mini_batches_test
    np.random.seed(1)
    mini_batch_size = 2
    X = np.random.randn(5, 7)
    Y = np.random.randn(1, 7) < 0.5
    expected = [(np.array([[1.74481176, -0.52817175], [-0.38405435, -0.24937038], [-1.10061918, -0.17242821],
                           [-0.93576943, 0.50249434], [-0.67124613, -0.69166075]]), np.array([[True, True]])),
                (np.array([[-0.61175641, -1.07296862], [0.3190391, 1.46210794], [-1.09989127, -0.87785842],
                           [0.90159072, 0.90085595], [0.53035547, -0.39675353]]), np.array([[True, False]])),
                (np.array([[1.62434536, -2.3015387], [-0.7612069, -0.3224172], [1.13376944, 0.58281521],
                           [1.14472371, -0.12289023], [-0.26788808, -0.84520564]]), np.array([[True, True]])),
                (np.array([[0.86540763], [-2.06014071], [0.04221375], [-0.68372786], [-0.6871727]]),
                 np.array([[False]]))]
    mini_batches = ref.random_mini_batches(X, Y, mini_batch_size)
    assert isinstance(mini_batches, list) and len(mini_batches) == len(expected)
    for (gx, gy), (ex, ey) in zip(mini_batches, expected):
        assert isinstance(gx, np.ndarray) and isinstance(gy, np.ndarray)
        close(gx, ex)
        assert gy.dtype == bool
        np.testing.assert_array_equal(gy, ey)


def test_initialize_velocity():
    # [OPT-NB] printed v: zeros shaped like the parameters (W2 is 3x3 in [OPT-TC])
    parameters = initialize_velocity_test_case()
    v = ref.initialize_velocity(parameters)
    assert sorted(v) == ["dW1", "dW2", "db1", "db2"]
    for key in v:
        assert v[key].shape == parameters[key[1:]].shape
        np.testing.assert_array_equal(v[key], 0.0)


def test_update_parameters_with_momentum():
    # [OPT-NB] cell after "GRADED FUNCTION: update_parameters_with_momentum"
    parameters, grads, v = update_parameters_with_momentum_test_case()
    parameters, v = ref.update_parameters_with_momentum(parameters, grads, v, beta=0.9, learning_rate=0.01)
    close(parameters["W1"], [[1.62544598, -0.61290114, -0.52907334],
                             [-1.07347112, 0.86450677, -2.30085497]])
    close(parameters["b1"], [[1.74493465], [-0.76027113]])
    close(parameters["W2"], [[0.31930698, -0.24990073, 1.4627996],
                             [-2.05974396, -0.32173003, -0.38320915],
                             [1.13444069, -1.0998786, -0.1713109]])
    close(parameters["b2"], [[-0.87809283], [0.04055394], [0.58207317]])
    close(v["dW1"], [[-0.11006192, 0.11447237, 0.09015907],
                     [0.05024943, 0.09008559, -0.06837279]])
    close(v["db1"], [[-0.01228902], [-0.09357694]])
    close(v["dW2"], [[-0.02678881, 0.05303555, -0.06916608],
                     [-0.03967535, -0.06871727, -0.08452056],
                     [-0.06712461, -0.00126646, -0.11173103]])
    close(v["db2"], [[0.02344157], [0.16598022], [0.07420442]])


def test_initialize_adam():
    # [OPT-NB] printed v and s: zeros shaped like the parameters
    parameters = initialize_adam_test_case()
    v, s = ref.initialize_adam(parameters)
    for d in (v, s):
        assert sorted(d) == ["dW1", "dW2", "db1", "db2"]
        for key in d:
            assert d[key].shape == parameters[key[1:]].shape
            np.testing.assert_array_equal(d[key], 0.0)
    assert v["dW1"] is not s["dW1"]


def test_update_parameters_with_adam():
    # [OPT-NB] cell after "GRADED FUNCTION: update_parameters_with_adam" (and its
    # "Expected values" markdown): t = 2, learning_rate = 0.02, beta1 = 0.8,
    # beta2 = 0.888, epsilon = 1e-2
    parametersi, grads, vi, si = update_parameters_with_adam_test_case()
    t, learning_rate, beta1, beta2, epsilon = 2, 0.02, 0.8, 0.888, 1e-2
    parameters, v, s, vc, sc = ref.update_parameters_with_adam(parametersi, grads, vi, si, t,
                                                               learning_rate, beta1, beta2, epsilon)
    close(parameters["W1"], [[1.63942428, -0.6268425, -0.54320974],
                             [-1.08782943, 0.85036983, -2.2865723]])
    close(parameters["W2"], [[0.33356139, -0.26425199, 1.47707772],
                             [-2.04538458, -0.30744933, -0.36903141],
                             [1.14873036, -1.09256871, -0.15734651]])
    close(parameters["b1"], [[1.75854357], [-0.74616067]])
    close(parameters["b2"], [[-0.89228024], [0.02707193], [0.56782561]])
    # the relations the course's public test asserts: vc = v * 1/(1-beta1**t), sc = s * 1/(1-beta2**t)
    c1 = 1.0 / (1 - beta1 ** t)
    c2 = 1.0 / (1 - beta2 ** t)
    for key in v:
        np.testing.assert_allclose(vc[key], v[key] * c1, rtol=1e-14)
        np.testing.assert_allclose(sc[key], s[key] * c2, rtol=1e-14)
        # first step from zero moments: v = (1-beta1) g, s = (1-beta2) g**2
        np.testing.assert_allclose(v[key], (1 - beta1) * grads[key], rtol=1e-15)
        np.testing.assert_allclose(s[key], (1 - beta2) * grads[key] ** 2, rtol=1e-15)


def test_update_lr():
    # [OPT-PT] update_lr_test
    assert np.isclose(ref.update_lr(0.5, 2, 1), 0.16666666666666666)
    assert ref.update_lr(0.5, 2, 1) == 0.16666666666666666


def test_schedule_lr_decay():
    # [OPT-PT] schedule_lr_decay_test
    assert np.isclose(ref.schedule_lr_decay(0.5, 100, 1, 100), 0.25)
    assert np.isclose(ref.schedule_lr_decay(0.5, 10, 1, 100), 0.5)
    assert np.isclose(ref.schedule_lr_decay(0.3, 1000, 0.25, 100), 0.085714285)
    assert np.isclose(ref.schedule_lr_decay(0.3, 100, 0.25, 100), 0.24)


# --------------------------------------------------------------------------
# Regularization
# --------------------------------------------------------------------------

def test_compute_cost_with_regularization():
    A3, Y_assess, parameters = compute_cost_with_regularization_test_case()
    cost = ref.compute_cost_with_regularization(A3, Y_assess, parameters, lambd=0.1)
    # [REG-MD] printed "cost = 1.78648594516"; [REG-PT] expected_cost = 1.7864859451590758
    assert np.isclose(cost, 1.78648594516, rtol=0, atol=5e-12)
    assert cost == 1.7864859451590758
    # the general network's mean cost agrees here (no nan terms)
    assert ref.cost(A3, Y_assess, parameters, "sigmoid", lambd=0.1) == cost


def test_backward_propagation_with_regularization():
    # [REG-MD] printed dW1, dW2, dW3 (and "Expected Output"), lambd = 0.7
    X_assess, Y_assess, cache = backward_propagation_with_regularization_test_case()
    grads = ref.backward_propagation_with_regularization(X_assess, Y_assess, cache, lambd=0.7)
    close(grads["dW1"], [[-0.25604646, 0.12298827, -0.28297129],
                         [-0.17706303, 0.34536094, -0.4410571]])
    close(grads["dW2"], [[0.79276486, 0.85133918],
                         [-0.0957219, -0.01720463],
                         [-0.13100772, -0.03750433]])
    close(grads["dW3"], [[-1.77691347, -0.11832879, -0.09397446]])
    assert sorted(grads) == sorted(["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"])


def test_forward_propagation_with_dropout():
    # [REG-MD] printed A3 (and "Expected Output"), keep_prob = 0.7
    X_assess, parameters = forward_propagation_with_dropout_test_case()
    A3, cache = ref.forward_propagation_with_dropout(X_assess, parameters, keep_prob=0.7)
    close(A3, [[0.36974721, 0.00305176, 0.04565099, 0.49683389, 0.36974721]])
    assert len(cache) == 14  # (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)


def test_backward_propagation_with_dropout():
    # [REG-MD] printed dA1, dA2 (and "Expected Output"), keep_prob = 0.8
    X_assess, Y_assess, cache = backward_propagation_with_dropout_test_case()
    gradients = ref.backward_propagation_with_dropout(X_assess, Y_assess, cache, keep_prob=0.8)
    dA1 = [[0.36544439, 0., -0.00188233, 0., -0.17408748],
           [0.65515713, 0., -0.00337459, 0., -0.]]
    dA2 = [[0.58180856, 0., -0.00299679, 0., -0.27715731],
           [0., 0.53159854, -0., 0.53159854, -0.34089673],
           [0., 0., -0.00292733, 0., -0.]]
    close(gradients["dA1"], dA1)
    close(gradients["dA2"], dA2)
    # the printed zero signs are those of (W.T dZ) * D / keep_prob, elementwise
    np.testing.assert_array_equal(np.signbit(gradients["dA1"]), np.signbit(np.array(dA1)))
    np.testing.assert_array_equal(np.signbit(gradients["dA2"]), np.signbit(np.array(dA2)))


# --------------------------------------------------------------------------
# Gradient checking
# --------------------------------------------------------------------------

def test_gradient_check_n_buggy_backward():
    # [GC-PY] expected_values[0] and message; [GC-MD] "difference = 0.285093156781"
    X, Y, parameters = gradient_check_n_test_case()
    cost, cache = forward_propagation_n(X, Y, parameters)
    gradients = backward_propagation_n(X, Y, cache)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        difference = ref.gradient_check_n(parameters, gradients, X, Y, 1e-7, True)
    assert not isinstance(difference, np.ndarray)
    assert np.isclose(difference, 0.2850931567761623)
    # the older notebook (another NumPy/BLAS) printed 0.285093156781: the
    # same value to ~5e-12, the finite differences being sensitive to rounding
    assert np.isclose(difference, 0.285093156781, rtol=0, atol=1e-10)
    assert out.getvalue() == ("\033[93mThere is a mistake in the backward propagation! difference = "
                              + str(difference) + "\033[0m\n")


def test_gradient_check_n_fixed_backward():
    # [GC-PY] expected_values[1] (the backward with the dW2 / db1 bugs fixed)
    X, Y, parameters = gradient_check_n_test_case()
    cost, cache = forward_propagation_n(X, Y, parameters)
    gradients = backward_propagation_n(X, Y, cache, fixed=True)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        difference = ref.gradient_check_n(parameters, gradients, X, Y, 1e-7, True)
    assert np.isclose(difference, 1.1890913024229996e-07, rtol=1e-6, atol=0)
    assert out.getvalue().startswith("\033[92mYour backward propagation works perfectly fine! difference = ")
    # the general backward gives the course's fixed gradients exactly
    AL, cache2 = ref.forward(X, parameters)
    grads = ref.backward(X, Y, cache2)
    for key in gradients:
        np.testing.assert_array_equal(grads[key], gradients[key])
    # silent unless print_msg
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ref.gradient_check_n(parameters, gradients, X, Y)
    assert out.getvalue() == ""


def test_gradient_check_helpers_course_layout():
    # [GC-UT]: keys in order W1, b1, W2, b2, W3, b3; the 4-5-3-1 slices
    X, Y, parameters = gradient_check_n_test_case()
    theta, keys = ref.dictionary_to_vector(parameters)
    assert theta.shape == (47, 1)
    assert keys == ["W1"] * 20 + ["b1"] * 5 + ["W2"] * 15 + ["b2"] * 3 + ["W3"] * 3 + ["b3"]
    np.testing.assert_array_equal(theta[:20, 0], parameters["W1"].ravel())
    np.testing.assert_array_equal(theta[46:47, 0], parameters["b3"].ravel())
    back = ref.vector_to_dictionary(theta)  # default layer_dims = the course's 4-5-3-1
    for key in parameters:
        np.testing.assert_array_equal(back[key], parameters[key])
    grads = {"d" + k: v * 2.0 for k, v in parameters.items()}
    np.testing.assert_array_equal(ref.gradients_to_vector(grads), theta * 2.0)
