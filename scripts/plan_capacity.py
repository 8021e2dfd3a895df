#!/usr/bin/env python3
"""Plan a Lambda function's provisioned concurrency from a traffic profile.

    .venv/bin/python scripts/plan_capacity.py --at-once 10000 --provisioned 7000 --account-limit 10000
    .venv/bin/python scripts/plan_capacity.py --steady 50 --burst 2000@60s+30s --length 300 --duration-ms 120
    .venv/bin/python scripts/plan_capacity.py --csv profile.csv --duration-ms 120 --provisioned 10

See docs/scaling.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from capacity.cli import main

if __name__ == "__main__":
    sys.exit(main())
