from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dsrs", "0009_resource_segments"),
    ]

    operations = [
        # The "shared" cache of the settings (Django's DatabaseCache, as `createcachetable` makes
        # its table): the API throttles' counts, the same for every process. UNLOGGED: counts
        # lost in a crash cost nothing, and they need no WAL.
        migrations.RunSQL(
            sql="""
            CREATE UNLOGGED TABLE dsrs_shared_cache (
                cache_key varchar(255) PRIMARY KEY,
                value text NOT NULL,
                expires timestamp with time zone NOT NULL
            );
            CREATE INDEX dsrs_shared_cache_expires ON dsrs_shared_cache (expires);
            """,
            reverse_sql="DROP TABLE dsrs_shared_cache",
        ),
    ]
