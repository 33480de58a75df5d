"""What the Echo tool and its connector agree on: the webhook's signature header and how it
is computed. (A real tool documents this; here both sides import it.)"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

SIGNATURE: Final = "X-Echo-Signature"
DELIVERY: Final = "X-Echo-Delivery"
FIELDS: Final = ("title", "description", "status")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
