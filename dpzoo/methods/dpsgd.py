"""DP-SGD (Abadi et al. 2016, METHODS.md section 0): clip each example's gradient to C, add
N(0, sigma^2 C^2) once to the sum, divide by B; formal under the run's accountant and sampling.

Every other method is DP-SGD plus what its module states; this one adds nothing to the defaults
of ``dpzoo.methods.method.Method`` and runs on every engine (dpzoo's, TF Privacy's optimizers
and the non-private baseline).
"""

from dpzoo.methods.method import Method


class DPSGD(Method):
    name = "dpsgd"
    paper = "Abadi et al. 2016 (DP-SGD)"
    summary = "DP-SGD"
