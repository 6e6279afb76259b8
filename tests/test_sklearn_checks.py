"""scikit-learn's own estimator checks over DNNClassifier and DNNRegressor."""

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastdnn.sklearn import DNNClassifier, DNNRegressor  # noqa: E402

#: Checks that cannot pass, with the reason (``expected_failed_checks``).
EXPECTED_FAILURES = {}


@parametrize_with_checks(
    [DNNClassifier(max_iter=100, random_state=0),
     DNNRegressor(max_iter=100, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILURES.get(type(est).__name__, {}))
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
