"""Compare a returned value with what the reference expects, with messages a student can act on.

Runs only in the grader's process: values arrive here already decoded into plain data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from grader.i18n import _, sentences


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str


def describe(value: Any) -> str:
    """A short, human description of a value for feedback."""
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            numbers = ", ".join(format(item, ".6g") for item in value.ravel().tolist())
            return _("array [{numbers}] of shape {shape}").format(
                numbers=numbers, shape=value.shape
            )
        return _("an array of shape {shape}").format(shape=value.shape)
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return "None"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        return float(value.reshape(()))
    return None


def _not_a_number_message(got: Any) -> str:
    if got is None:
        return _("Expected a number, got None: is a `None` placeholder still in your code?")
    return _("Expected a number, got {value}.").format(value=describe(got))


@dataclass(frozen=True)
class Close:
    """The value must equal `expected` within rtol/atol: a number, an array, or a dict, list
    or tuple of them, judged part by part (a dict may hold more keys than expected)."""

    # It pins the value: only a function that computes the right thing passes it.
    pins: ClassVar[bool] = True
    expected: Any
    rtol: float = 1e-6
    atol: float = 0.0

    def judge(self, got: Any) -> Verdict:
        if isinstance(self.expected, dict | list | tuple):
            return self._judge_parts(self.expected, got, "")
        expected = np.asarray(self.expected)
        if expected.ndim == 0:
            number = _as_number(got)
            if number is None:
                return Verdict(False, _not_a_number_message(got))
            if expected.dtype.kind in "iuf":
                return self._judge_number(number, float(expected))
            return self._judge_numbers(np.asarray(number), expected)
        if not isinstance(got, np.ndarray | list | int | float) or isinstance(got, bool):
            message = _("Expected an array of shape {shape}, got {value}.")
            return Verdict(False, message.format(shape=expected.shape, value=describe(got)))
        try:
            array = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            message = _("Expected an array of numbers, got {value}.")
            return Verdict(False, message.format(value=describe(got)))
        if array.shape != expected.shape:
            message = _("Expected shape {expected}, got shape {got}.")
            return Verdict(False, message.format(expected=expected.shape, got=array.shape))
        return self._judge_numbers(array, expected)

    def _judge_parts(self, expected: Any, got: Any, path: str) -> Verdict:
        """A structured value, part by part; a failure names the part, as `['dW1'][0]`."""
        what = path or _("The result")
        if isinstance(expected, dict):
            if not isinstance(got, dict):
                message = _("{part}: expected a dict, got {value}.")
                return Verdict(False, message.format(part=what, value=describe(got)))
            parts = []
            for key, part in expected.items():
                if key not in got:
                    message = _("{part}: missing from the result.")
                    return Verdict(False, message.format(part=f"{path}[{key!r}]"))
                parts.append((part, got[key], f"{path}[{key!r}]"))
        elif not isinstance(got, list | tuple):
            message = _("{part}: expected {count} items, got {value}.")
            return Verdict(
                False, message.format(part=what, count=len(expected), value=describe(got))
            )
        elif len(got) != len(expected):
            message = _("{part}: expected {count} items, got {got}.")
            return Verdict(False, message.format(part=what, count=len(expected), got=len(got)))
        else:
            pairs = enumerate(zip(expected, got, strict=True))
            parts = [(part, value, f"{path}[{index}]") for index, (part, value) in pairs]
        for part, value, where in parts:
            if isinstance(part, dict | list | tuple):
                verdict = self._judge_parts(part, value, where)
            else:
                leaf = Close(part, self.rtol, self.atol).judge(value)
                verdict = leaf if leaf.passed else Verdict(False, f"{where}: {leaf.message}")
            if not verdict.passed:
                return verdict
        return Verdict(True, _("Every part matches the expected value."))

    def _judge_number(self, got: float, expected: float) -> Verdict:
        """`_judge_numbers` for one real number: the same arithmetic and words, without arrays."""
        if not math.isfinite(got):
            return Verdict(False, _not_finite().format(value=describe(got)))
        if abs(got - expected) <= self.atol + self.rtol * abs(expected):
            return Verdict(
                True, _("{value} matches the expected value.").format(value=describe(got))
            )
        relative = abs(got - expected) / abs(expected) if expected else math.inf
        return Verdict(False, self._mismatch(expected, got, "", relative))

    def _judge_numbers(self, got: np.ndarray, expected: np.ndarray) -> Verdict:
        if not np.all(np.isfinite(got)):
            return Verdict(False, _not_finite().format(value=describe(_plain(got))))
        error = np.abs(got - expected)
        allowed = self.atol + self.rtol * np.abs(expected)
        if np.all(error <= allowed):
            message = _("{value} matches the expected value.")
            return Verdict(True, message.format(value=describe(_plain(got))))
        worst = int(np.argmax(error - allowed))
        want, have = float(expected.ravel()[worst]), float(got.ravel()[worst])
        index = tuple(int(i) for i in np.unravel_index(worst, expected.shape))
        where = "" if expected.ndim == 0 else _(" at index {index}").format(index=index)
        relative = abs(have - want) / abs(want) if want else math.inf
        return Verdict(False, self._mismatch(want, have, where, relative))

    def _mismatch(self, expected: float, got: float, where: str, relative: float) -> str:
        return _(
            "Expected {expected}, got {got}{where} (relative error {relative}, allowed {allowed})."
        ).format(
            expected=repr(expected),
            got=repr(got),
            where=where,
            relative=f"{relative:.3g}",
            allowed=f"{self.rtol:g}",
        )


@dataclass(frozen=True)
class Within:
    """The value must be a number in [low, high): for results whose exact bits vary by platform."""

    # A range is passed by some constants too: on its own it proves nothing.
    pins: ClassVar[bool] = False
    low: float
    high: float
    why: str = ""

    def judge(self, got: Any) -> Verdict:
        number = _as_number(got)
        if number is None:
            return Verdict(False, _not_a_number_message(got))
        if self.low <= number < self.high:
            message = _("{value} is below {high}.")
            return Verdict(True, message.format(value=repr(number), high=f"{self.high:g}"))
        hint = _(self.why) if self.why else ""
        if number >= self.high:
            message = _("Expected a value below {high}, got {value}.")
            bound = f"{self.high:g}"
        else:
            message = _("Expected a value of at least {low}, got {value}.")
            bound = f"{self.low:g}"
        said = message.format(high=bound, low=bound, value=repr(number))
        return Verdict(False, sentences(said, hint))


def _not_finite() -> str:
    return _("Got {value}, which is not finite (nan or inf).")


def _plain(array: np.ndarray) -> Any:
    return float(array) if array.ndim == 0 else array


Expectation = Close | Within
