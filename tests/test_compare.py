"""Tolerances: accept every correct environment, reject the classic wrong and cheating values."""

from __future__ import annotations

import numpy as np
import pytest

from grader.compare import Close, Within


def test_close_rejects_zero_for_a_tiny_expected_value():
    # np.allclose(2.9e-10, 0) is True: a relative tolerance must not fall into that trap.
    verdict = Close(2.919335883291695e-10, rtol=1e-4).judge(0.0)
    assert not verdict.passed and "relative error 1" in verdict.message


def test_close_accepts_ints_numpy_scalars_and_one_element_arrays():
    for value in (8, 8.0, np.float64(8), np.array(8.0), np.array([[8.0]])):
        assert Close(8).judge(value).passed


def test_close_explains_none_placeholders_and_wrong_types():
    assert "None" in Close(8).judge(None).message
    assert not Close(8).judge("8").passed
    assert not Close(8).judge(True).passed


def test_close_on_arrays_checks_shape_and_reports_index():
    expected = np.arange(6.0).reshape(2, 3)
    assert Close(expected).judge(expected.copy()).passed
    assert "shape (3, 2)" in Close(expected).judge(expected.T).message
    wrong = expected.copy()
    wrong[1, 2] = 99
    assert "(1, 2)" in Close(expected).judge(wrong).message


def test_close_rejects_nan_and_inf():
    assert not Close(1.0, rtol=1.0).judge(float("nan")).passed
    assert "not finite" in Close(np.ones(2)).judge(np.array([1.0, np.inf])).message


@pytest.mark.parametrize("noise", [1.18904178788e-07, 1.18855520355e-07, 1.1890913024229996e-07])
def test_within_accepts_rounding_noise_of_every_environment(noise):
    assert Within(0.0, 2e-7).judge(noise).passed


def test_within_rejects_real_gradient_errors_with_a_reason():
    verdict = Within(0.0, 2e-7, "why it matters").judge(0.2850931567761624)
    assert (
        not verdict.passed
        and "below 2e-07" in verdict.message
        and "why it matters" in verdict.message
    )
    assert not Within(0.0, 2e-7).judge(-1.0).passed


@pytest.mark.parametrize(
    ("expected", "got"),
    [(8.0, 8.0), (8.0, 8.000008), (8.0, 8.00001), (0.0, 1e-300), (-0.0, 0.0),
     (2.9e-10, 2.9e-10 * 1.1), (1e308, float("inf")), (1.0, float("nan")), (3, 3),
     (2.0, np.float64(2.0))],
)  # fmt: skip
def test_a_number_is_judged_as_a_zero_dimensional_array_would_be(expected, got):
    close = Close(expected, rtol=1e-6)
    as_arrays = close._judge_numbers(np.asarray(float(got)), np.asarray(expected))
    assert close.judge(got) == as_arrays


def test_a_structured_value_is_judged_part_by_part():
    expected = {"dW1": np.array([1.0, 2.0]), "db1": 0.5}
    close = Close(expected, rtol=1e-6)
    assert close.judge({"dW1": np.array([1.0, 2.0]), "db1": 0.5, "dZ1": "extra"}).passed
    wrong = close.judge({"dW1": np.array([1.0, 2.5]), "db1": 0.5})
    assert not wrong.passed and wrong.message.startswith("['dW1']: Expected 2.0, got 2.5")
    assert close.judge({"dW1": np.array([1.0, 2.0])}).message == "['db1']: missing from the result."
    pair = Close((np.ones(2), {"D1": np.zeros(3)}))
    assert pair.judge([np.ones(2), {"D1": np.zeros(3)}]).passed  # tuples arrive as lists
    assert "[1]['D1']: Expected shape (3,)" in pair.judge([np.ones(2), {"D1": np.zeros(2)}]).message
    assert pair.judge([np.ones(2)]).message == "The result: expected 2 items, got 1."
    assert not pair.judge(None).passed and not Close([1.0]).judge([[1.0, 2.0], [3.0]]).passed
