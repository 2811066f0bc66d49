from django.db import migrations


class Migration(migrations.Migration):
    """Kept answers of the top-percentile query (dsrs/storage/kept_answers.py).

    No Django model: written and read by SQL only, one row per selection of DSRs.
    """

    dependencies = [("dsrs", "0004_ecb_rates")]

    operations = [
        migrations.RunSQL(
            sql="""
            CREATE TABLE dsrs_percentile_answer (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                dsr_ids bigint[] NOT NULL UNIQUE,
                total_units numeric NOT NULL,
                covered_number smallint NOT NULL CHECK (covered_number BETWEEN 1 AND 100),
                -- The head of covered_number: its resources' JSON (UTF-8) joined by commas,
                -- resource i ending at byte resource_ends[i], with units_before[i] of revenue
                -- before it. Bytes, not text: a prefix is then a copy, with no characters to count.
                resources bytea NOT NULL,
                resource_ends integer[] NOT NULL,
                units_before numeric[] NOT NULL
            );
            -- Stored uncompressed: an answer is read back whole, or a prefix of it, at memory speed.
            ALTER TABLE dsrs_percentile_answer ALTER COLUMN resources SET STORAGE EXTERNAL;
            """,
            reverse_sql="DROP TABLE dsrs_percentile_answer;",
        ),
    ]
