from django.apps import AppConfig


class DsrsConfig(AppConfig):
    name = "dsrs"
    verbose_name = "Digital sales reports"
