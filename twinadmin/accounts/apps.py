from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class AccountsConfig(AppConfig):
    name = "twinadmin.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.conf import settings

        from twinadmin.accounts import signals  # noqa: F401  (connects the lockout receiver)
        from twinadmin.accounts.roles import ALL_ROLES

        unknown = sorted(set(settings.REQUIRE_2FA_FOR) - set(ALL_ROLES))
        if unknown:
            raise ImproperlyConfigured(
                f"REQUIRE_2FA_FOR names no role: {', '.join(unknown)} (roles: {', '.join(ALL_ROLES)})"
            )
