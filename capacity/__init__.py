"""Capacity planner for Lambda functions: concurrency, cold starts, throttles and cost (scripts/plan_capacity.py)."""
