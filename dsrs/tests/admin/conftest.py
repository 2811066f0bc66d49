"""Fixtures of the admin's tests."""

import pytest


@pytest.fixture
def admin_client(client, django_user_model):
    """A superuser; pytest-django's own fixture also hashes a password, which is slow."""
    client.force_login(django_user_model.objects.create_superuser("admin"))
    return client
