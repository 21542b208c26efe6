import pytest
from bnconvex.verify.registry import register, unregister

from tests.verify._toy_claims import ALL


@pytest.fixture
def toy_claims():
    """Register the toy claims for one test, remove them afterwards."""
    for cls in ALL:
        register(cls)
    try:
        yield {cls.id: cls for cls in ALL}
    finally:
        for cls in ALL:
            unregister(cls.id)
