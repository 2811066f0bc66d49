from django.db import migrations


class Migration(migrations.Migration):
    """Kept answers of the top-percentile query (dsrs/percentile/cache.py).

    No Django models: written by COPY and read by SQL only. ON DELETE CASCADE in the database, so
    dropping an answer drops its resources in one statement, without Django's collector.
    """

    dependencies = [("dsrs", "0004_ecb_rates")]

    operations = [
        migrations.RunSQL(
            sql="""
            CREATE TABLE dsrs_percentile_answer (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                dsr_ids bigint[] NOT NULL UNIQUE,
                total_units numeric NOT NULL,
                covered_number smallint NOT NULL CHECK (covered_number BETWEEN 1 AND 100)
            );
            CREATE TABLE dsrs_percentile_answer_resource (
                answer_id bigint NOT NULL REFERENCES dsrs_percentile_answer ON DELETE CASCADE,
                -- Strictly increasing along the ranking: only resources with revenue are kept.
                units_before numeric NOT NULL,
                resource text NOT NULL,
                PRIMARY KEY (answer_id, units_before)
            );
            """,
            reverse_sql="DROP TABLE dsrs_percentile_answer_resource; DROP TABLE dsrs_percentile_answer;",
        ),
    ]
