import pytest

from tests.evaluation import kit


@pytest.fixture
def tree(db):
    return kit.specialties()


@pytest.fixture
def lot(parties, tree):
    return kit.opened_lot(parties)
