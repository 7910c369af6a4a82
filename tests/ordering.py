"""`--order reverse|random [--order-seed N]`: run each module's tests in another order, to show
that no test relies on what an earlier one left behind (on the sandbox's hosts above all).

Modules keep their place and their tests stay together, so module-scoped sandboxes are still
brought up once per module; only the order of the tests inside each module changes. A random
order prints its seed at the end of the run: `--order random --order-seed N` replays it.
"""

from __future__ import annotations

import random
from itertools import groupby

import pytest

ORDERS = ("given", "reverse", "random")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("order", "order of the tests within each module")
    group.addoption(
        "--order",
        choices=ORDERS,
        default="given",
        help="run each module's tests as written (given, the default), reversed, or shuffled; "
        "modules keep their place",
    )
    group.addoption(
        "--order-seed",
        type=int,
        default=None,
        help="the seed of --order random (default: a new one, printed in the header)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("order") == "random" and config.getoption("order_seed") is None:
        config.option.order_seed = random.SystemRandom().randrange(10**6)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    order = config.getoption("order")
    if order != "given":  # at the end, beside the failures, with -q too
        seed = f" --order-seed {config.getoption('order_seed')}" if order == "random" else ""
        terminalreporter.write_line(f"tests ran with --order {order}{seed} (within each module)")


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    order = config.getoption("order")
    if order == "given":
        return
    rng = random.Random(config.getoption("order_seed"))
    reordered: list[pytest.Item] = []
    for _, group in groupby(items, key=_module):
        tests = list(group)
        if order == "reverse":
            tests.reverse()
        else:
            rng.shuffle(tests)
        reordered.extend(tests)
    items[:] = reordered
