"""Payment tasks of the booking workflow (Step Functions invokes them directly; no HTTP).

authorizePayment {"bookingId","customerId","paymentToken","amount"} -> {"paymentId","status":"AUTHORIZED","amount"}
capturePayment   {"bookingId","paymentId"[,"amount"]} -> {"paymentId","status":"CAPTURED","amount"}
voidPayment      {"bookingId","paymentId"}            -> {"paymentId","status":"VOIDED"}
refundPayment    {"bookingId","paymentId"[,"amount"]} -> {"paymentId","status":"REFUNDED","amount"}
Idempotency key: `<bookingId>:<operation>`. A failure is raised; its class name is the
Step Functions error name (handlers/payment/errors.py). Payment tokens are never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.payment import logic
from handlers.payment.config import PaymentConfig, load_config
from handlers.payment.dal import DynamoPaymentStore
from handlers.payment.errors import PaymentDeclined, PaymentError, PaymentProcessingError
from handlers.payment.models import PaymentResult
from handlers.payment.ports import PaymentProvider
from handlers.payment.sandbox import SandboxProvider
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import record
from handlers.shared.tasks import aws_faults_classified


@record
class Adapters:
    """What the payment tasks work with: built once per process (`cold_start`), or passed in by a test."""

    provider: PaymentProvider


def build_adapters(config: PaymentConfig) -> Adapters:
    store = DynamoPaymentStore(config.payments_table_name, config.payment_operations_table_name)
    return Adapters(provider=SandboxProvider(store))


@cache
def cold_start() -> Adapters:
    """The adapters of this process, from its configuration (parsed once)."""
    return build_adapters(load_config())


def _run(
    task: str,
    operation: Callable[[PaymentProvider, Any], PaymentResult],
    event: Any,
    adapters: Adapters | None,
) -> dict[str, Any]:
    if isinstance(event, dict) and isinstance(event.get("bookingId"), str):
        tracer.put_annotation(key="bookingId", value=event["bookingId"])
    try:
        result = operation((adapters or cold_start()).provider, event)
    except PaymentDeclined as exc:
        metrics.add_metric(name="PaymentDeclined", unit=MetricUnit.Count, value=1)
        logger.info("payment declined", extra={"task": task, "reason": exc.reason})
        raise
    except PaymentProcessingError:
        metrics.add_metric(name="PaymentTransientError", unit=MetricUnit.Count, value=1)
        logger.warning("transient processor failure", extra={"task": task})
        raise
    except PaymentError as exc:
        logger.info("payment refused", extra={"task": task, "error": type(exc).__name__, "reason": exc.message})
        raise
    except Exception:
        # Counted for the canary alarm: not a business outcome (SDK, throttling, bug).
        metrics.add_metric(name="PaymentTaskFailed", unit=MetricUnit.Count, value=1)
        logger.exception("payment task failed", extra={"task": task})
        raise
    metrics.add_metric(name=f"Payment{result.status.value.title()}", unit=MetricUnit.Count, value=1)
    logger.info("payment task done", extra={"task": task, "paymentId": result.paymentId, "status": result.status})
    return result.to_output()


@resume_gc_after_first_invocation
@logger.inject_lambda_context(correlation_id_path="bookingId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@aws_faults_classified
def authorize_handler(
    event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None
) -> dict[str, Any]:
    return _run("authorizePayment", logic.authorize, event, adapters)


@resume_gc_after_first_invocation
@logger.inject_lambda_context(correlation_id_path="bookingId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@aws_faults_classified
def capture_handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    return _run("capturePayment", logic.capture, event, adapters)


@resume_gc_after_first_invocation
@logger.inject_lambda_context(correlation_id_path="bookingId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@aws_faults_classified
def void_handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    return _run("voidPayment", logic.void, event, adapters)


@resume_gc_after_first_invocation
@logger.inject_lambda_context(correlation_id_path="bookingId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@aws_faults_classified
def refund_handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    return _run("refundPayment", logic.refund, event, adapters)
