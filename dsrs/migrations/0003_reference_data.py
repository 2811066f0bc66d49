from django.db import migrations


def load_iso_reference_data(apps, schema_editor):
    import pycountry

    Currency = apps.get_model("dsrs", "Currency")
    Territory = apps.get_model("dsrs", "Territory")
    Currency.objects.bulk_create(
        [Currency(code=c.alpha_3, name=c.name) for c in pycountry.currencies],
        ignore_conflicts=True,
    )
    Territory.objects.bulk_create(
        [Territory(code_2=c.alpha_2, code_3=c.alpha_3, name=c.name) for c in pycountry.countries],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("dsrs", "0002_usage_lines")]

    operations = [migrations.RunPython(load_iso_reference_data, migrations.RunPython.noop)]
