"""Minimal Django settings for checking token compatibility with SimpleJWT.

SimpleJWT's defaults (HS256, no issuer or audience, user_id claim, 5 minute
access tokens) except SIGNING_KEY, the fixed test key in signing_key.txt.
Only the test scripts beside this file use it.
"""
import pathlib

_HERE = pathlib.Path(__file__).resolve().parent

SECRET_KEY = "tollgate-compat-test-only"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework_simplejwt",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
SIMPLE_JWT = {
    "SIGNING_KEY": (_HERE / "signing_key.txt").read_text().strip(),
}
