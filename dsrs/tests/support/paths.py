"""Where the tests find the project and what lies beside it."""

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]
SAMPLE_DATA = PROJECT / "data"
OPENAPI_SCHEMA = PROJECT / "docs" / "openapi.yaml"
# The real sample DSRs and the reference contract, beside the project when it is checked out
# with them (as in CI); tests that need them are skipped otherwise.
SEED_DATA = PROJECT.parent / "shared" / "seed-data"
REFERENCE_CONTRACT = PROJECT.parent / "shared" / "reference" / "openapi.yaml"
