from django.db import migrations


class Migration(migrations.Migration):
    """Usage lines, partitioned by DSR (see dsrs/partitions.py for how partitions come and go).

    No Django model: lines are only written by COPY and read by set-based SQL. No primary key and
    no foreign key either: each would cost a check per line on a load of hundreds of millions of
    lines, and the partition bound already ties every line to its DSR.
    """

    dependencies = [("dsrs", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql="""
            CREATE TABLE dsrs_usage (
                dsr_id bigint NOT NULL,
                -- C collation: resources are ranked by dsp_id in binary order, and C comparisons
                -- are the cheap ones for grouping hundreds of millions of ids.
                dsp_id text COLLATE "C" NOT NULL,
                title text NOT NULL,
                artists text NOT NULL,
                isrc text NOT NULL,
                usages bigint NOT NULL,
                revenue numeric NOT NULL
            ) PARTITION BY LIST (dsr_id);
            """,
            reverse_sql="DROP TABLE dsrs_usage;",
        ),
    ]
