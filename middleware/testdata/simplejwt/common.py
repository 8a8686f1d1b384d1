"""Shared set-up of the SimpleJWT compatibility scripts: Django configured
with djsettings, an in-memory database migrated, and one user (id 42)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsettings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)

from django.contrib.auth import get_user_model  # noqa: E402

USER_ID = 42


def user(active=True):
    """Returns the test user, creating it on first use."""
    User = get_user_model()
    u, _ = User.objects.get_or_create(id=USER_ID, defaults={"username": "alice", "is_active": active})
    return u
