"""`python -m dsr_project.embedded_postgres COMMAND...`: run COMMAND with DATABASE_URL set.

For tools that need the server's URL rather than a Django connection (`make bench` creates its
own database on the project's server). DATABASE_URL already set is kept; otherwise the embedded
server of the settings is started and its URL given.
"""

import os
import sys
from pathlib import Path

from dsr_project.embedded_postgres import running_server


def main(command: list[str]) -> None:
    if not command:
        sys.exit("usage: python -m dsr_project.embedded_postgres COMMAND [ARGUMENT...]")
    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dsr_project.settings")
        from django.conf import settings

        os.environ["DATABASE_URL"] = running_server(Path(settings.DATABASES["default"]["PGDATA"])).get_uri("postgres")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
