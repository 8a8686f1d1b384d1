#!/usr/bin/python3
"""Writes the fixtures of django/: real `manage.py dumpdata` output of Django.

    apt-get install -y python3-django python3-argon2 python3-bcrypt
    /usr/bin/python3 django/testdata/make_fixture.py django/testdata

A throwaway project (settings module in a temp dir, sqlite) is migrated, users
are created with each of Django's password hashers (at a cheap cost: the
subclasses change only cost attributes, so the encodings are Django's own),
and `dumpdata auth.user auth.group --indent 2` is written twice:
  users_tz.json    USE_TZ=True  (dates as "2021-03-04T05:06:07.891Z")
  users_naive.json USE_TZ=False (dates as "2021-03-04T05:06:07.891")
passwords.json maps each username to its plain password, for the tests.
"""
import datetime
import io
import json
import os
import subprocess
import sys
import tempfile

OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")

USERS = [
    # username, password, hasher, staff, superuser, active, pk
    ("alice", "alice-argon2id-pw", "CheapArgon2", True, True, True, None),
    ("bob", "bob-pbkdf2-sha256", "CheapPBKDF2", False, False, True, None),
    ("carol", "carol-pbkdf2-sha1", "CheapPBKDF2SHA1", False, False, True, None),
    ("dave", "dave-bcrypt-sha256", "CheapBCryptSHA256", True, False, True, None),
    ("erin", "erin-plain-bcrypt", "CheapBCrypt", False, False, True, None),
    ("frank", None, None, False, False, False, None),  # unusable password, inactive
    ("grace", "grace-argon2i-pässwörd", "Argon2i", False, False, True, 42),
]

CHILD = r'''
import datetime, json, os, sys
import django
from django.conf import settings
use_tz = sys.argv[1] == "tz"
settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[2]}},
    USE_TZ=use_tz, TIME_ZONE="UTC",
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()
import argon2
from django.contrib.auth import hashers
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command

class CheapArgon2(hashers.Argon2PasswordHasher):
    time_cost, memory_cost, parallelism = 1, 256, 2
class Argon2i(CheapArgon2):
    def params(self):
        p = super().params()
        return argon2.Parameters(type=argon2.low_level.Type.I, version=p.version, salt_len=p.salt_len,
            hash_len=p.hash_len, time_cost=p.time_cost, memory_cost=p.memory_cost, parallelism=p.parallelism)
class CheapPBKDF2(hashers.PBKDF2PasswordHasher):
    iterations = 1000
class CheapPBKDF2SHA1(hashers.PBKDF2SHA1PasswordHasher):
    iterations = 1000
class CheapBCryptSHA256(hashers.BCryptSHA256PasswordHasher):
    rounds = 4
class CheapBCrypt(hashers.BCryptPasswordHasher):
    rounds = 4

call_command("migrate", verbosity=0)
staff = Group.objects.create(name="staff")
users = json.loads(sys.argv[3])
tz = datetime.timezone.utc if use_tz else None
for i, (name, pw, hasher, is_staff, su, active, pk) in enumerate(users):
    u = User(username=name, email=name + "@example.com", first_name=name.title(), last_name="Example",
             is_staff=is_staff, is_superuser=su, is_active=active)
    if pk:
        u.pk = pk
    if pw is None:
        u.set_unusable_password()
    else:
        u.password = hashers.make_password(pw, hasher=globals()[hasher]())
    u.date_joined = datetime.datetime(2021, 3, 4, 5, 6, 7, 891234 if i % 2 == 0 else 0, tzinfo=tz)
    if i % 3 != 1:
        u.last_login = datetime.datetime(2024, 1, 2 + i, 3, 4, 5, 600000, tzinfo=tz)
    u.save()
    if is_staff:
        u.groups.add(staff)
        u.user_permissions.add(Permission.objects.get(codename="change_user"))
call_command("dumpdata", "auth.user", "auth.group", indent=2)
'''

with tempfile.TemporaryDirectory() as tmp:
    for mode, name in (("tz", "users_tz.json"), ("naive", "users_naive.json")):
        db = os.path.join(tmp, mode + ".sqlite3")
        out = subprocess.run(["/usr/bin/python3", "-c", CHILD, mode, db, json.dumps(USERS)],
                             check=True, capture_output=True, text=True).stdout
        with open(os.path.join(OUT, name), "w") as f:
            f.write(out)

with open(os.path.join(OUT, "passwords.json"), "w") as f:
    json.dump({u[0]: u[1] for u in USERS if u[1] is not None}, f, indent=1, ensure_ascii=False)
    f.write("\n")
