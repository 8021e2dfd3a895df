"""Lambda list prices used by the planner: one region, one architecture, dated.

Source: AWS Lambda pricing page, https://aws.amazon.com/lambda/pricing/ (x86,
US East (N. Virginia) us-east-1), first duration tier. The page renders its
tables client-side; the figures were checked on 2026-11-28 against the page's
worked examples ($0.20 per 1M requests, $0.0000166667 per GB-second) and against
the AWS Price List rate codes for "Lambda Provisioned-Concurrency"
($0.0000041667) and "Lambda Duration-Provisioned" ($0.0000097222) as quoted in
public cost tools. eu-west-1 lists the same on-demand figures. No free tier is
applied (it does not apply to functions with provisioned concurrency either).
Re-check before quoting a figure to anyone: prices change.
"""

from __future__ import annotations

PRICES_AS_OF = "2026-11-28"
PRICES_REGION = "us-east-1"
PRICES_ARCHITECTURE = "x86_64"
PRICES_SOURCE = "https://aws.amazon.com/lambda/pricing/"

REQUEST_PRICE_PER_MILLION = 0.20
ON_DEMAND_PER_GB_SECOND = 0.0000166667
PROVISIONED_PER_GB_SECOND = 0.0000041667  # charged for every configured environment, busy or idle
PROVISIONED_DURATION_PER_GB_SECOND = 0.0000097222  # duration of invocations served by provisioned environments

SECONDS_PER_MONTH = 730 * 3600  # AWS's pricing examples use 730 hours a month
