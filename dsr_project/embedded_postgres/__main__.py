"""`python -m dsr_project.embedded_postgres COMMAND...`: run COMMAND with DATABASE_URL set.

For tools that need the server's URL rather than a Django connection (`make bench` creates its
own database on the project's server; a backup runs pg_dump). DATABASE_URL already set is kept;
otherwise the embedded server of the settings is started, its URL given and its bin folder put
first on PATH.
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

        server = running_server(Path(settings.DATABASES["default"]["PGDATA"]))
        os.environ["DATABASE_URL"] = server.get_uri("postgres")
        # The server's own client programs first: psql, pg_dump and pg_restore of its version.
        os.environ["PATH"] = f"{server.bin_path}{os.pathsep}{os.environ.get('PATH', '')}"
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
