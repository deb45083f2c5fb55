"""The shipped tool environment (``environment=calculator``, ``experiment=tool_use``): one calculator per rollout.

TRL's ``environment_factory`` contract: ``reset(**row)`` before each rollout (the dataset row's fields), every
public method a tool (its docstring and type hints are the schema the policy is shown), ``get_reward()`` once the
rollout ends. Deterministic: the arithmetic is parsed with :mod:`ast` (numbers and ``+ - * / // % **``, nothing
else), so a rollout's result depends only on what the policy asked.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
MAX_EXPONENT = 100  # 10 ** 10 ** 10 would hang the rollout: a tool must answer quickly or raise


def evaluate(expression: str) -> float:
    """The value of an arithmetic expression; ValueError (or ZeroDivisionError) for anything else."""
    try:
        tree = ast.parse(expression.replace("^", "**").replace("×", "*").replace("÷", "/"), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from exc
    return float(_value(tree.body))


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ValueError(f"exponent too large: {right}")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    raise ValueError(f"unsupported in an arithmetic expression: {ast.unparse(node)!r}")


def as_text(value: float) -> str:
    """A result as the policy reads it: ``42`` for whole numbers, else up to 6 significant decimals."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"


def same_number(text: str, reference: str) -> bool:
    """Whether ``text`` is the reference number (within 0.01%, for rounded references)."""
    try:
        got, want = float(text), float(reference)
    except ValueError:
        return False
    return math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-9)


class Calculator:
    """One rollout's calculator. ``get_reward``: 1.0 when a call returned the row's reference answer, else 0.0
    (the process check; whether the final answer states it is the judge's rubric, rubric=tool_use)."""

    def __init__(self) -> None:
        self.reference = ""
        self.results: list[str] = []
        self.errors = 0

    def reset(self, reference_answer: Any = "", **row: Any) -> None:
        """A new rollout for one dataset row (TRL passes the row's fields); nothing is added to the prompt."""
        self.reference = "" if reference_answer is None else str(reference_answer)
        self.results = []
        self.errors = 0

    def calculate(self, expression: str) -> str:
        """Evaluate an arithmetic expression and return its value.

        Args:
            expression: Numbers with + - * / and parentheses, for example "12 * (3 + 4)".

        Returns:
            The value of the expression.
        """
        try:
            result = as_text(evaluate(expression))
        except (ValueError, ArithmeticError):
            self.errors += 1
            raise  # TRL sends the error back to the model as the tool's result and counts it
        self.results.append(result)
        return result

    def get_reward(self) -> float:
        return 1.0 if any(same_number(r, self.reference) for r in self.results) else 0.0
