"""The one `BookingId`: what the booking service issues (a UUID) and every service accepts.

The compiled pattern serves code that checks an id without a model (a path parameter).
"""

from __future__ import annotations

import re
from typing import Annotated

from handlers.shared.records import Rules

BOOKING_ID_PATTERN = re.compile(r"[A-Za-z0-9-]{1,64}")
BookingId = Annotated[str, Rules(pattern=f"^{BOOKING_ID_PATTERN.pattern}$")]


def is_booking_id(value: str) -> bool:
    return BOOKING_ID_PATTERN.fullmatch(value) is not None
