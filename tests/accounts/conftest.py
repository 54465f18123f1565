"""The fake Seqera Platforms the identity tests talk to (tests/support/fake_platform.py)."""

from __future__ import annotations

import pytest

from tests.support.fake_platform import FakePlatform, trust


@pytest.fixture
def platform(settings):
    fake = FakePlatform()
    trust(settings, fake)
    yield fake
    fake.close()


@pytest.fixture
def other_platform():
    fake = FakePlatform()
    yield fake
    fake.close()
