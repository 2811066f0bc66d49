"""Django's PostgreSQL backend for the embedded server of settings_dict["PGDATA"].

The server is started (or found running) when the first connection is opened, and its socket
directory fills HOST: until then, nothing but the settings dictionary exists.
"""

from pathlib import Path

from django.db.backends.postgresql import base, client

from dsr_project.embedded_postgres import running_server


class DatabaseClient(client.DatabaseClient):
    def runshell(self, parameters: list[str]) -> None:
        self.connection.use_running_server()  # dbshell: psql needs the socket too
        super().runshell(parameters)


class DatabaseWrapper(base.DatabaseWrapper):
    client_class = DatabaseClient

    def get_connection_params(self) -> dict:
        self.use_running_server()
        return super().get_connection_params()

    def use_running_server(self) -> None:
        postmaster = running_server(Path(self.settings_dict["PGDATA"])).get_postmaster_info()
        self.settings_dict.update(HOST=str(postmaster.socket_dir), PORT=str(postmaster.port), USER="postgres")
