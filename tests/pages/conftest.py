"""The browser fixture of every browser test module under tests/pages/."""

from __future__ import annotations

import pytest

from tests.support.browser import chromium


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()
