from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dsrs", "0009_resource_segments"),
    ]

    operations = [
        # The "shared" cache of the settings (Django's DatabaseCache, as `createcachetable` makes
        # its table): the API throttles' counts, the same for every process. Not UNLOGGED: after
        # a crash, an unlogged table's index can be left unreadable, and every request fail.
        migrations.RunSQL(
            sql="""
            CREATE TABLE dsrs_shared_cache (
                cache_key varchar(255) PRIMARY KEY,
                value text NOT NULL,
                expires timestamp with time zone NOT NULL
            );
            CREATE INDEX dsrs_shared_cache_expires ON dsrs_shared_cache (expires);
            """,
            reverse_sql="DROP TABLE dsrs_shared_cache",
        ),
    ]
