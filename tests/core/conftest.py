"""The backup round trip (test_backup.py) backs up a consultation in review: its fixtures are
the consultation tests' own."""

from tests.consult.conftest import (  # noqa: F401 - fixtures, found by name
    assigned,
    draft,
    in_review,
    on_call_specialist,
)
