"""Mints the fixed SimpleJWT access token the Go test TestSimpleJWT_AccessTokenAccepted reads.

Run once (Debian: python3-django python3-djangorestframework
python3-djangorestframework-simplejwt python3-jwt):

    /usr/bin/python3 middleware/testdata/simplejwt/mint_access_token.py

It writes access_token.txt (the token as SimpleJWT's AccessToken.for_user
produced it) and prints its versions and payload. The Go test needs no Python.
"""
import json
import os

import common  # noqa: F401  (configures Django)

import django
import jwt
import rest_framework_simplejwt
from rest_framework_simplejwt.tokens import AccessToken

token = AccessToken.for_user(common.user())
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "access_token.txt"), "w") as f:
    f.write(str(token) + "\n")
print("django", django.get_version(), "pyjwt", jwt.__version__,
      "simplejwt", getattr(rest_framework_simplejwt, "__version__", "?"))
print(json.dumps(token.payload, sort_keys=True))
