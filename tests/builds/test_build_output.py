"""What a build's output leaves besides its log: the recorded steps stay bounded whatever it prints."""

from __future__ import annotations

import pytest

from builds.logs import BuildLog
from builds.output import BuildOutput


@pytest.mark.django_db
def test_step_lines_a_build_prints_are_bounded_in_number_and_length():
    output = BuildOutput(BuildLog("b1"), {})
    output("STEP 1/2: FROM busybox\n" + "".join(f"STEP {n}/9: RUN {'x' * 5000}\n" for n in range(1500)))
    assert len(output.steps) == 1000
    assert output.steps[0]["step"] == "1/2: FROM busybox"
    assert output.steps[1]["step"] == "0/9: RUN " + "x" * 291 and len(output.steps[-1]["step"]) == 300
