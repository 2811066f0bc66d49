"""Tools for developers, not part of the service's data path: `generator.py` writes sample and
benchmark DSRs (data/ is made by it, through `manage.py generate_dsr`)."""
