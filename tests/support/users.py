"""Users in role groups."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group


def user_in_groups(username: str, *groups: str, password: str | None = None) -> Any:
    """A user in each of `groups`. Without a password unless given: tests that sign in with
    force_login need none, and hashing one costs ~0.3 s per user. Groups are fetched or created:
    a transactional test's flush empties the ones the data migration made."""
    user = get_user_model().objects.create_user(username=username, password=password)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user
