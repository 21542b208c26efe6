"""Fixtures of the CLI tests (shared with the claim-framework tests)."""

from tests.verify.conftest import toy_claims

__all__ = ["toy_claims"]
