"""`--order` (tests/ordering.py): tests reordered within each module, modules kept in place."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

MODULE = """
def test_a(): pass
def test_b(): pass
def test_c(): pass
"""


def ran(pytester: pytest.Pytester, *args: str) -> list[str]:
    pytester.makepyfile(test_one=MODULE, test_two=MODULE)
    pytester.makeconftest('pytest_plugins = ["tests.ordering"]')
    result = pytester.runpytest("-v", *args)
    result.assert_outcomes(passed=6)
    return [
        line.split(" ")[0].removeprefix("test_")
        for line in result.outlines
        if "::" in line and "PASSED" in line
    ]


def test_the_given_order_is_the_default(pytester: pytest.Pytester) -> None:
    assert ran(pytester) == [f"{m}.py::test_{t}" for m in ("one", "two") for t in "abc"]


def test_reverse_reverses_each_module_and_keeps_the_modules_in_place(
    pytester: pytest.Pytester,
) -> None:
    assert ran(pytester, "--order", "reverse") == [
        f"{m}.py::test_{t}" for m in ("one", "two") for t in "cba"
    ]


def test_random_is_replayed_by_its_seed_and_keeps_each_module_together(
    pytester: pytest.Pytester,
) -> None:
    orders = {tuple(ran(pytester, "--order", "random", "--order-seed", "7")) for _ in range(2)}
    assert len(orders) == 1
    (order,) = orders
    assert [name.split("::")[0] for name in order] == ["one.py"] * 3 + ["two.py"] * 3
    seeds = {tuple(ran(pytester, "--order", "random", "--order-seed", str(s))) for s in range(8)}
    assert len(seeds) > 1  # the seed does change the order
    assert "--order-seed" in str(pytester.runpytest("--order", "random").outlines[-2:])
