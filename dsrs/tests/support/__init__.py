"""What the tests share besides fixtures (conftest.py): paths, database and response readers,
DSRF records, uploads and users, real processes, the API's schemas."""
