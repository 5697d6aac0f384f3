"""run_state_machine: async state machines on the test's loop, each run isolated."""

from __future__ import annotations

import re

import pytest

from harness.hypothesis import AsyncStateMachine

MACHINE = """
from hypothesis import settings, strategies as st
from hypothesis.stateful import invariant, rule
from harness.hypothesis import AsyncStateMachine, per_example, run_state_machine

RUNS = []


class Items(AsyncStateMachine):
    def __init__(self, client):
        super().__init__()
        self.client = client
        self.names = set()
        # every run starts from an empty table
        assert self.wait(client.get("/count")).json() == 0
        RUNS.append(1)

    @rule(name=st.sampled_from(["a", "b", "c", "fixed"]))
    def create(self, name):
        response = self.wait(self.client.post(f"/items/{name}"))
        assert response.status_code == (409 if name in self.names else 201)
        self.names.add(name)

    @rule(name=st.sampled_from(["a", "b", "c", "fixed"]))
    def remove(self, name):
        assert self.wait(self.client.delete(f"/items/{name}")).status_code == 204
        self.names.discard(name)

    @invariant()
    def listed(self):
        assert self.wait(self.client.get("/items")).json() == sorted(self.names)
"""


def test_each_run_starts_from_the_same_state(project: pytest.Pytester):
    project.makepyfile(
        MACHINE
        + """

async def test_machine(client, db_session, db_connection):
    await run_state_machine(Items, client, isolation=per_example(db_connection, db_session))
    assert len(RUNS) > 10
    assert (await client.get("/count")).json() == 0
"""
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(passed=1)


def test_without_isolation_runs_see_each_other(project: pytest.Pytester):
    project.makepyfile(
        MACHINE
        + """

async def test_machine(client):
    await run_state_machine(Items, client)
"""
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 1 == 0*"])


BROKEN = (
    MACHINE.replace("RUNS = []", "RUNS = []\nLIMIT = 2")
    + """

    @rule()
    def count_is_small(self):
        assert self.wait(self.client.get("/count")).json() <= LIMIT


async def test_machine(client, db_session, db_connection):
    await run_state_machine(Items, client, isolation=per_example(db_connection, db_session))
"""
)


def test_a_failing_run_prints_its_steps_and_how_to_replay_it(project: pytest.Pytester):
    project.makepyfile(BROKEN)
    first = project.runpytest("--harness-backends=sqlite")
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines(
        [
            "*state = Items()*",
            "*state.create(name=*",
            "*state.count_is_small()*",
            "*state.teardown()*",
            "*@reproduce_failure(*",
        ]
    )
    steps = _first_program(first.outlines)
    assert sum("create(" in line for line in steps) == 3  # shrunk to the three creates
    # The printed decorator, put on the machine class, replays that run straight away.
    blob = re.search(r"@reproduce_failure\(.*?\)(?= as a decorator)", first.stdout.str())
    assert blob is not None
    project.makepyfile(
        BROKEN.replace(
            "class Items", f"from hypothesis import reproduce_failure\n{blob.group(0)}\nclass Items"
        )
    )
    replay = project.runpytest("--harness-backends=sqlite")
    replay.assert_outcomes(failed=1)
    replayed = _first_program(replay.outlines)
    assert [_step(line) for line in replayed] == [_step(line) for line in steps]


def _first_program(lines: list[str]) -> list[str]:
    """The steps of the first printed program (some Hypothesis versions print it twice)."""
    steps: list[str] = []
    for line in lines:
        if "state = Items()" in line:
            steps = []
        elif "state." in line:
            steps.append(line)
            if "state.teardown()" in line:
                break
    return steps


def _step(line: str) -> str:
    return "state." + line.split("state.", 1)[1]


def test_the_machines_own_settings_apply(project: pytest.Pytester):
    project.makepyfile(
        MACHINE.replace("class Items", "@settings(max_examples=3)\nclass Items")
        + """

async def test_machine(client, db_session, db_connection):
    await run_state_machine(Items, client, isolation=per_example(db_connection, db_session))
    assert len(RUNS) == 3
"""
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(passed=1)


def test_wait_needs_run_state_machine() -> None:
    class Lonely(AsyncStateMachine):
        pass

    async def nothing() -> None:
        pass

    coroutine = nothing()
    with pytest.raises(RuntimeError, match="run_state_machine"):
        Lonely.wait(object.__new__(Lonely), coroutine)
    coroutine.close()
