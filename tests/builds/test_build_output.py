"""What a build's output leaves besides its log: the recorded steps stay bounded whatever it prints."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import DataError

from builds.jobs import finish, on_job_failure
from builds.logs import BuildLog
from builds.models import Build
from builds.output import BuildOutput


@pytest.mark.django_db
def test_step_lines_a_build_prints_are_bounded_in_number_and_length():
    output = BuildOutput(BuildLog("b1"), {})
    output("STEP 1/2: FROM busybox\n" + "".join(f"STEP {n}/9: RUN {'x' * 5000}\n" for n in range(1500)))
    assert len(output.steps) == 1000
    assert output.steps[0]["step"] == "1/2: FROM busybox"
    assert output.steps[1]["step"] == "0/9: RUN " + "x" * 291 and len(output.steps[-1]["step"]) == 300


@pytest.mark.django_db
def test_a_nul_in_a_step_an_error_or_a_disk_full_line_still_ends_the_build_recorded(db_build):
    build = db_build("9" * 16)
    output = BuildOutput(BuildLog(build.id, interval=0), {})
    # Each of these lines is kept for the build's end (its steps, its reason): Postgres refuses a NUL in any.
    output("STEP 1/2: RUN printf '\x00'\nerror: x\x00y\nwrite /x: no space left on device \x00\n")
    finish(build, output, reason=output.reason, public_reason=output.public_reason, exit_status=1)
    build.refresh_from_db()
    assert build.status == Build.Status.FAILED and build.exit_status == 1
    assert build.steps[0]["step"] == "1/2: RUN printf '\ufffd'"
    assert build.reason == "The builder ran out of disk space (no space left on device): write /x: no space left on device \ufffd"
    assert build.log.endswith("error: x\ufffdy\nwrite /x: no space left on device \ufffd\nBuild failed: " + build.reason + "\n")


@pytest.mark.django_db
def test_a_job_that_died_unexpectedly_tells_strangers_its_kind_only(db_build):
    build = db_build("8" * 16)
    leaked = 'syntax error at or near "steps" LINE 1: ... "steps" = E\'[{"step": "9/9: echo $TOKEN=s3cr3t"'
    on_job_failure(SimpleNamespace(args=[build.id]), None, DataError, DataError(leaked), None)
    build.refresh_from_db()
    assert build.reason == f"The build job failed: {leaked}"  # the owner's org and operators: the whole of it
    assert build.public_reason == (
        "The build job failed (DataError); its log, shown to its owner's organisation and operators, says why"
    )
