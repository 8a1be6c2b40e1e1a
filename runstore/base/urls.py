"""URLs as they may be shown: a user's remote or git URL can carry a password or a token."""

from __future__ import annotations

import re

_CREDENTIALS = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")
_SECRET_PARAMS = re.compile(
    r"(?i)([?&](?:token|key|secret|password|sig|signature|access_token|x-amz-signature|x-amz-credential)=)[^&]*"
)


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x?token=t` -> `https://host/x?token=***`: what may be printed, logged or
    recorded. scp-style `git@host:x` is kept as it is: it names a user, not a secret."""
    return _SECRET_PARAMS.sub(r"\1***", _CREDENTIALS.sub(r"\g<scheme>", url))
