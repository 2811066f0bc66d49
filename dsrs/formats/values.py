"""Where the bounds on a usage line's numbers are set, for both formats: what usages and revenue a
line may carry, and how a revenue is spelled.

The bounds keep every sum the API returns exact and finite: a resource's usages summed over fewer
than 9.2 million lines fit a bigint (and JSON integers of 64 bits); revenue below 10^15 per line,
divided by an EUR rate of at least 1e-10, sums far below what a JSON number (a double) carries.
100 characters keep a revenue's digits within what PostgreSQL numeric holds.
"""

import re
from decimal import Decimal

MAX_USAGES = 10**12 - 1  # twelve digits
MAX_USAGES_DIGITS = len(str(MAX_USAGES))
REVENUE_LIMIT = Decimal(10) ** 15  # revenue must be below it
MAX_REVENUE_CHARS = 100

# Bytes patterns: \d is [0-9] only, never another script's digits.
USAGES = re.compile(rb"\d+")
REVENUE = re.compile(rb"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")


def shown(value: bytes) -> str:
    """A cell as a message quotes it: its first 50 bytes, decoded whatever they hold."""
    return repr(value[:50].decode("utf-8", "replace"))
