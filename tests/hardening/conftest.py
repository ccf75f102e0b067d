"""Fixtures of the hardening tests: the run stage's test kit on sys.path, a CLI invoker that forbids tracebacks.

Fuzz budgets: every fuzz test runs a fixed, derandomized number of inputs (see
docs/hardening.md), so CI sees the same inputs on every run. TRTDEPLOY_FUZZ_EXAMPLES=N
runs N random inputs per fuzz test instead, for a longer hunt on a workstation.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

TESTS = Path(__file__).resolve().parents[1]
for folder in (TESTS / "run", TESTS):  # runkit (tests/run), and tests/ for render.support / plan.support
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

FUZZ_EXAMPLES = int(os.environ.get("TRTDEPLOY_FUZZ_EXAMPLES", "0"))


def fuzz_settings(examples: int) -> settings:
    """`examples` derandomized inputs, or TRTDEPLOY_FUZZ_EXAMPLES random ones; never the example database."""
    return settings(
        max_examples=FUZZ_EXAMPLES or examples,
        derandomize=not FUZZ_EXAMPLES,
        deadline=None,  # no wall-clock bound in tests: bench/bench_hostile.py times inputs
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                               HealthCheck.function_scoped_fixture],
        print_blob=True,
    )


@pytest.fixture(autouse=True)
def _stop_what_killed_runners_left(tmp_path: Path) -> Iterator[None]:
    """Tests kill runners with SIGKILL on purpose; afterwards, stop what their steps left and remove their cgroups,
    exactly as the next build would (compiler.run.processes.stop_leftovers)."""
    yield
    from compiler.run.processes import stop_leftovers

    for state_dir in {p.parent.parent for p in tmp_path.glob("**/.trtdeploy/attempts/*.json")}:
        stop_leftovers(state_dir)


def invoke(*args: str) -> Result:
    """Run the CLI in this process. Only SystemExit(0|1) may end it: anything else is a crash."""
    result = CliRunner().invoke(cli_group(), list(args))
    if result.exception is not None:
        if not isinstance(result.exception, SystemExit):
            raise AssertionError(f"trtdeploy {' '.join(args)} crashed") from result.exception
        assert result.exit_code in (0, 1), f"trtdeploy {' '.join(args)} exited {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


def cli_group():  # type: ignore[no-untyped-def]
    from compiler.cli import cli

    return cli


@pytest.fixture
def trtdeploy() -> Callable[..., Result]:
    return invoke
