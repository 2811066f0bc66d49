"""The users the tests log in as: staff with some of the app's permissions, an API client's token."""

from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token


def user_with_token(django_user_model, username: str, *permissions: str) -> str:
    """The `Authorization` header of a new user who holds `permissions` (dsrs codenames)."""
    user = django_user_model.objects.create_user(username)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="dsrs", codename__in=permissions))
    return f"Token {Token.objects.create(user=user).key}"


def staff_user(django_user_model, username: str, *permissions: str):
    user = django_user_model.objects.create_user(username, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="dsrs", codename__in=permissions))
    return user
