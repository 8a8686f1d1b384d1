"""Checks that SimpleJWT accepts a Tollgate access token.

    /usr/bin/python3 middleware/testdata/simplejwt/verify_tollgate_token.py TOKEN

TOKEN must be signed with signing_key.txt (HS256) for user 42 and be valid
now. The script validates it as SimpleJWT's own views and authentication do:
UntypedToken (signature, exp, jti, token_type present), AccessToken (type
"access"), and JWTAuthentication, which also loads the user from the user_id
claim. It prints the payload and exits 0, or prints the error and exits 1.
The Go test TestSimpleJWT_AcceptsTollgateToken runs it when asked to
(TOLLGATE_SIMPLEJWT_PYTHON=/usr/bin/python3).
"""
import json
import sys

import common

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, UntypedToken

raw = sys.argv[1]
common.user()
try:
    UntypedToken(raw)
    token = AccessToken(raw)
    auth = JWTAuthentication()
    validated = auth.get_validated_token(raw.encode())
    user = auth.get_user(validated)
except (TokenError, InvalidToken) as e:
    print("refused:", e)
    sys.exit(1)
if user.id != common.USER_ID:
    print("wrong user:", user.id)
    sys.exit(1)
print("accepted:", json.dumps(token.payload, sort_keys=True))
