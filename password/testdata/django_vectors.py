#!/usr/bin/python3
"""Generates django_vectors.json: real hashes made by Django's own hashers.

Run with Debian's Python and Django (not a virtualenv):
    apt-get install -y python3-django python3-argon2 python3-bcrypt
    /usr/bin/python3 password/testdata/django_vectors.py > password/testdata/django_vectors.json

Each hasher gives one hash at Django's default cost (what a real table holds;
tests skip these under -short) and several at a cheap cost made by subclasses
that change only the cost attributes, so the encoding is Django's own.

With --check, reads [{"password": ..., "encoded": ...}] on stdin and prints
[true|false, ...]: whether Django's check_password accepts each hash.
"""
import json
import sys

import django
from django.conf import settings

settings.configure(
    PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
    INSTALLED_APPS=[],
)
django.setup()

import argon2  # noqa: E402
from django.contrib.auth import hashers  # noqa: E402


class CheapArgon2(hashers.Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 256
    parallelism = 2


class Argon2i(hashers.Argon2PasswordHasher):
    """Django < 2.? wrote argon2i; only the type differs."""

    time_cost = 1
    memory_cost = 256
    parallelism = 2

    def params(self):
        p = super().params()
        return argon2.Parameters(
            type=argon2.low_level.Type.I, version=p.version, salt_len=p.salt_len,
            hash_len=p.hash_len, time_cost=p.time_cost, memory_cost=p.memory_cost,
            parallelism=p.parallelism)


class CheapPBKDF2(hashers.PBKDF2PasswordHasher):
    iterations = 1000


class CheapPBKDF2SHA1(hashers.PBKDF2SHA1PasswordHasher):
    iterations = 1000


class CheapBCryptSHA256(hashers.BCryptSHA256PasswordHasher):
    rounds = 4


class CheapBCrypt(hashers.BCryptPasswordHasher):
    rounds = 4


PASSWORDS = [
    "correct horse battery staple",
    "pässwörd-ünïcödé-密码",
    "",
    "a$b$c!",
    "x" * 100,  # longer than bcrypt's 72 bytes
]

CHEAP = [CheapArgon2, Argon2i, CheapPBKDF2, CheapPBKDF2SHA1, CheapBCryptSHA256, CheapBCrypt]
DEFAULT = [
    hashers.Argon2PasswordHasher,
    hashers.PBKDF2PasswordHasher,
    hashers.PBKDF2SHA1PasswordHasher,
    hashers.BCryptSHA256PasswordHasher,
    hashers.BCryptPasswordHasher,
]


def generate():
    out = []
    for cls in CHEAP:
        for pw in PASSWORDS:
            encoded = hashers.make_password(pw, hasher=cls())
            assert cls().verify(pw, encoded), cls
            # Plain bcrypt ignores bytes past the 72nd, so "x"+1 still matches there.
            assert cls().verify(pw + "x", encoded) == (cls is CheapBCrypt and len(pw) >= 72), cls
            out.append({"hasher": cls.__name__, "password": pw, "encoded": encoded, "default_cost": False})
    for cls in DEFAULT:
        pw = "Tr0ub4dor&3"
        encoded = hashers.make_password(pw, hasher=cls())
        assert cls().verify(pw, encoded)
        out.append({"hasher": cls.__name__, "password": pw, "encoded": encoded, "default_cost": True})
    out.append({"hasher": "unusable", "password": "", "encoded": hashers.make_password(None),
                "default_cost": False})
    out.append({"hasher": "MD5PasswordHasher", "password": "md5",
                "encoded": hashers.make_password("md5", hasher=hashers.MD5PasswordHasher()),
                "default_cost": False})
    return out


def check():
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    hashers.get_hashers.cache_clear()
    hashers.get_hashers_by_algorithm.cache_clear()
    items = json.load(sys.stdin)
    json.dump([hashers.check_password(i["password"], i["encoded"]) for i in items], sys.stdout)


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        check()
    else:
        json.dump(generate(), sys.stdout, indent=1, ensure_ascii=False)
        print()
