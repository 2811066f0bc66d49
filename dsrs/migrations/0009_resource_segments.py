from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dsrs", "0008_dsr_columnar_copy"),
    ]

    operations = [
        migrations.AddField(
            model_name="dsr",
            name="resource_segment",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        # What the resource segments (dsrs.storage.columnar.segments) describe their resources by:
        # one row per distinct description, shared by every DSR that reports it the same way.
        migrations.RunSQL(
            sql="""
            CREATE TABLE dsrs_resource_description (
                digest uuid PRIMARY KEY,
                dsp_id text NOT NULL,
                title text NOT NULL,
                artists text NOT NULL,
                isrc text NOT NULL
            );
            """,
            reverse_sql="DROP TABLE dsrs_resource_description;",
        ),
    ]
