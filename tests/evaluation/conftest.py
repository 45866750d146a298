import pytest

from tests.evaluation import kit
from tests.evaluation.room import evaluating, room  # noqa: F401 (fixtures: a session run by hand)


@pytest.fixture
def tree(db):
    return kit.specialties()


@pytest.fixture
def lot(parties, tree):
    return kit.opened_lot(parties)
