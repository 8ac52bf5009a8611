"""Create the demo users (a superuser and one user per role) and a small registry sample.

Passwords are random and printed once, when a user is created; `--reset-passwords` prints new
ones for existing demo users."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db import transaction

from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS
from twinadmin.registry.services import creator_create

DEMO_USERS = (
    ("admin", None),
    ("operator", OPERATORS),
    ("approver", APPROVERS),
    ("auditor", AUDITORS),
)


class Command(BaseCommand):
    help = "Create demo users (printed passwords) and a small registry sample."

    def add_arguments(self, parser):
        parser.add_argument("--reset-passwords", action="store_true")

    @transaction.atomic
    def handle(self, *args, reset_passwords: bool = False, **options):
        User = get_user_model()
        for username, group in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": group is None, "is_superuser": group is None}
            )
            if group:
                user.groups.add(Group.objects.get(name=group))
            if created or reset_passwords:
                password = _valid_password(user)
                user.set_password(password)
                user.save()
                self.stdout.write(f"user {username:<9} password {password}  ({group or 'superuser'})")
            else:
                self.stdout.write(f"user {username:<9} exists (use --reset-passwords for a new password)")
        from twinadmin.registry.models import Creator

        if not Creator.objects.filter(creator_id="sainath.no.1").exists():
            creator_create(creator_id="sainath.no.1", display_name="Sainath (test creator)")
            self.stdout.write("registry: created test creator sainath.no.1")


def _valid_password(user) -> str:
    """A random password that AUTH_PASSWORD_VALIDATORS accept for this user (a random draw
    fails them almost never; the loop makes "almost" never)."""
    while True:
        password = secrets.token_urlsafe(12)
        try:
            validate_password(password, user)
        except ValidationError:
            continue
        return password
