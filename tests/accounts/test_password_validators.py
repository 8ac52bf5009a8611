"""Django's four password validators guard every password set through Django's forms and
`changepassword`, and the demo users' generated passwords pass them."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "too short"),
        ("password123", "too common"),
        ("48213975061254", "entirely numeric"),
        ("operator-rosalind", "too similar"),
    ],
)
def test_weak_passwords_are_refused(password, reason):
    user = get_user_model()(username="operator-rosalind", email="rosalind@example.org")
    with pytest.raises(ValidationError, match=reason):
        validate_password(password, user)


def test_the_demo_users_passwords_pass_every_validator():
    out = StringIO()
    call_command("bootstrap_demo", stdout=out)
    printed = dict(re.findall(r"user (\S+)\s+password (\S+)", out.getvalue()))
    assert set(printed) == {"admin", "operator", "approver", "auditor"}
    for username, password in printed.items():
        user = get_user_model().objects.get(username=username)
        assert user.check_password(password)
        validate_password(password, user)
