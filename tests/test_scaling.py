"""Scaling fits recover synthetic linear relations; intervals match an independent computation."""

import numpy as np
import pytest
from scipy import stats

from descriptors.analysis.scaling import fit_all, fit_scaling


def test_one_descriptor_recovers_slope_and_intercept():
    x = np.linspace(-2.0, 1.0, 9)
    f = fit_scaling(x, 0.63 * x - 1.27, "*NH", ["*N"])
    assert f.slopes[0] == pytest.approx(0.63, abs=1e-6)
    assert f.intercept == pytest.approx(-1.27, abs=1e-6)
    assert f.r2 == pytest.approx(1.0, abs=1e-12) and f.mae < 1e-9
    assert f.predict(np.array([0.5]))[0] == pytest.approx(0.63 * 0.5 - 1.27)


def test_two_descriptors_recover_coefficients():
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 1, size=(12, 2))
    y = 0.5 * x[:, 0] + 0.3 * x[:, 1] - 0.1
    f = fit_scaling(x, y, "*NO2", ["*N", "*NO3"])
    np.testing.assert_allclose(f.slopes, [0.5, 0.3], atol=1e-6)
    assert f.intercept == pytest.approx(-0.1, abs=1e-6) and f.r2 == pytest.approx(1.0)
    assert f.predict(np.array([[0.2, -0.4]]))[0] == pytest.approx(0.5 * 0.2 + 0.3 * -0.4 - 0.1)


def test_confidence_interval_matches_linregress():
    rng = np.random.default_rng(7)
    x = np.linspace(-2, 1, 15)
    y = 0.8 * x + 0.2 + rng.normal(0, 0.05, x.size)
    f = fit_scaling(x, y, "*NO", ["*N"], confidence=0.95)
    lr = stats.linregress(x, y)
    t = stats.t.ppf(0.975, x.size - 2)
    assert f.slopes[0] == pytest.approx(lr.slope)
    assert f.slopes_ci[0] == pytest.approx([lr.slope - t * lr.stderr, lr.slope + t * lr.stderr])
    assert f.intercept_ci == pytest.approx((lr.intercept - t * lr.intercept_stderr,
                                            lr.intercept + t * lr.intercept_stderr))
    assert f.r2 == pytest.approx(lr.rvalue ** 2)
    assert f.mae == pytest.approx(np.mean(np.abs(y - (lr.slope * x + lr.intercept))))
    assert f.slopes_ci[0][0] < 0.8 < f.slopes_ci[0][1]


def test_fit_all_skips_targets_with_too_few_catalysts():
    g = {"A": {"*N": -1.0, "*NH": -1.5, "*NO": -2.0}, "B": {"*N": -0.5, "*NH": -1.2}, "C": {"*N": 0.0, "*NH": -0.9}}
    fits, skipped = fit_all(g, ["*N"], ["*N", "*NH", "*NO"])
    assert fits["*N"].identity and fits["*NH"].n == 3 and "*NO" in skipped
    with pytest.raises(ValueError, match="need at least"):
        fit_scaling([1.0], [2.0], "*NH", ["*N"])
