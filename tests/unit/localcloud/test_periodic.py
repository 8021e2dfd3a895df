"""The local cloud's background rounds (log and metric shipping, state snapshots)."""

from __future__ import annotations

import threading

from localcloud.periodic import Periodic


def test_work_repeats_on_its_clock_survives_a_failed_round_and_stops() -> None:
    rounds: list[int] = []
    errors: list[str] = []
    third = threading.Event()

    def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise OSError("edge gone")
        if len(rounds) >= 3:
            third.set()

    periodic = Periodic("unit-rounds", 0.01, work, errors.append)
    periodic.start()
    assert third.wait(5)
    periodic.stop()
    done = len(rounds)
    assert errors[0] == "unit-rounds failed, retrying: OSError: edge gone"
    assert not [t for t in threading.enumerate() if t.name == "unit-rounds"]
    assert len(rounds) == done  # nothing after stop
