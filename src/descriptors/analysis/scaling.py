"""Scaling relations: an intermediate's adsorption free energy as a linear function of one or
two descriptors, G_target = sum_k a_k G_descriptor_k + b, fitted by ordinary least squares
(scikit-learn) with slope(s), intercept, R^2, MAE, RMSE and confidence intervals of the
coefficients (Student t, ``confidence`` level, from the OLS covariance s^2 (X'X)^-1, scipy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["ScalingFit", "fit_scaling", "fit_all"]


@dataclass
class ScalingFit:
    target: str
    descriptors: tuple[str, ...]
    slopes: np.ndarray
    intercept: float
    r2: float
    mae: float
    rmse: float
    n: int
    slopes_ci: np.ndarray  # (k, 2) lower/upper
    intercept_ci: tuple[float, float]
    confidence: float
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    labels: list[str] = field(default_factory=list, repr=False)
    identity: bool = False  # the descriptor itself (slope 1, intercept 0, exact)

    def predict(self, x) -> np.ndarray:
        """G_target at descriptor values ``x``: shape (m, k), (m,) for k = 1, or broadcastable grids."""
        x = np.asarray(x, float)
        if len(self.descriptors) == 1 and (x.ndim <= 1 or x.shape[-1] != 1):
            return self.slopes[0] * x + self.intercept
        return x @ self.slopes + self.intercept

    def equation(self) -> str:
        terms = " ".join(f"{a:+.3f} G({d})" for a, d in zip(self.slopes, self.descriptors))
        return f"G({self.target}) = {terms.lstrip('+')} {self.intercept:+.3f} eV"

    def as_dict(self) -> dict[str, Any]:
        d = {"target": self.target, "descriptors": list(self.descriptors), "n": self.n,
             "intercept_eV": self.intercept, "intercept_ci_eV": list(self.intercept_ci),
             "R2": self.r2, "MAE_eV": self.mae, "RMSE_eV": self.rmse, "confidence": self.confidence,
             "equation": self.equation()}
        for i, desc in enumerate(self.descriptors):
            d[f"slope[{desc}]"] = float(self.slopes[i])
            d[f"slope_ci[{desc}]"] = [float(v) for v in self.slopes_ci[i]]
        return d


def _identity(name: str, descriptors: tuple[str, ...], confidence: float) -> ScalingFit:
    k = len(descriptors)
    slopes = np.array([1.0 if d == name else 0.0 for d in descriptors])
    return ScalingFit(name, descriptors, slopes, 0.0, 1.0, 0.0, 0.0, 0, np.c_[slopes, slopes], (0.0, 0.0),
                      confidence, np.zeros((0, k)), np.zeros(0), [], identity=True)


def fit_scaling(x, y, target: str, descriptors: Sequence[str], labels: Sequence[str] | None = None,
                confidence: float = 0.95) -> ScalingFit:
    """OLS fit of ``y`` (n,) on ``x`` (n,) or (n, k); needs n >= k + 1 points (k + 2 for an interval)."""
    # the t quantile (scipy.stats.t.ppf) without the import of scipy.stats
    from scipy.special import stdtrit

    x = np.asarray(x, float)
    if x.ndim == 1:
        x = x[:, None]
    y = np.asarray(y, float)
    n, k = x.shape
    descriptors = tuple(descriptors)
    if len(descriptors) != k:
        raise ValueError(f"{k} descriptor columns but {len(descriptors)} descriptor names")
    if n < k + 1:
        raise ValueError(f"scaling fit of {target}: {n} point(s) for {k} descriptor(s); need at least {k + 1}")
    # OLS on centred data with LAPACK's least squares (gelsd), as sklearn's LinearRegression does
    x_mean, y_mean = x.mean(axis=0), y.mean()
    coef_ = np.linalg.lstsq(x - x_mean, y - y_mean, rcond=None)[0]
    intercept_ = float(y_mean - x_mean @ coef_)
    pred = x @ coef_ + intercept_
    res = y - pred
    ss_res = float(res @ res)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res < 1e-24 else 0.0)
    dof = n - k - 1
    a = np.c_[x, np.ones(n)]
    if dof > 0:
        s2 = ss_res / dof
        cov = s2 * np.linalg.pinv(a.T @ a)
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        t = float(stdtrit(dof, 0.5 + confidence / 2))
    else:
        se, t = np.full(k + 1, np.nan), np.nan
    coef = np.r_[coef_, intercept_]
    ci = np.c_[coef - t * se, coef + t * se]
    return ScalingFit(target, descriptors, np.asarray(coef_, float), intercept_, float(r2),
                      float(np.abs(res).mean()), float(np.sqrt((res ** 2).mean())), n, ci[:k], (float(ci[k, 0]),
                      float(ci[k, 1])), confidence, x, y, list(labels or []))


def fit_all(g_ads: dict[str, dict[str, float]], descriptors: Sequence[str], targets: Sequence[str],
            confidence: float = 0.95) -> tuple[dict[str, ScalingFit], dict[str, str]]:
    """Fit every target over the catalysts that have it and all descriptors.

    ``g_ads``: {catalyst: {species: G_ads}}.  Returns the fits and, for targets that could not
    be fitted, the reason (too few catalysts).  A descriptor maps onto itself exactly.
    """
    descriptors = tuple(descriptors)
    fits, skipped = {}, {}
    for t in targets:
        if t in descriptors:
            fits[t] = _identity(t, descriptors, confidence)
            continue
        cats = [c for c, g in g_ads.items() if t in g and all(d in g for d in descriptors)]
        if len(cats) < len(descriptors) + 2:
            skipped[t] = (f"{len(cats)} catalyst(s) with {t} and {', '.join(descriptors)}; a fit with an interval "
                          f"needs {len(descriptors) + 2}")
            continue
        x = np.array([[g_ads[c][d] for d in descriptors] for c in cats])
        y = np.array([g_ads[c][t] for c in cats])
        fits[t] = fit_scaling(x, y, t, descriptors, cats, confidence)
    return fits, skipped
