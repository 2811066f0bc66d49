"""docs/configuration.md lists exactly the variables the settings read, so it cannot drift."""

import ast
import re

from dsrs.tests.support.paths import PROJECT

SETTINGS = PROJECT / "dsr_project" / "settings.py"
CONFIGURATION = PROJECT / "docs" / "configuration.md"
READERS = {"env_text", "env_bool", "env_int", "env_ratio", "env_choice", "env_list", "env_rate"}


def variables_read_by_the_settings() -> set[str]:
    """The first argument of every env_* helper call and os.environ lookup in settings.py."""
    names = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            called = function.id if isinstance(function, ast.Name) else ast.unparse(function)
            if called in READERS or called in ("os.environ.get", "os.getenv"):
                names.add(node.args[0].value)
        if (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def variables_documented() -> set[str]:
    """The names in the first column of the page's first table."""
    table = re.search(r"^\| variable \|.*?\n\n", CONFIGURATION.read_text(), re.M | re.S)
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", table.group(0), re.M))


def test_every_variable_the_settings_read_is_documented_and_nothing_else():
    read = variables_read_by_the_settings()

    assert {"DATABASE_URL", "COLUMNAR_DIR", "COLUMNAR_FORMAT", "COLUMNAR_MEMORY_LIMIT"} <= read
    assert variables_documented() == read
