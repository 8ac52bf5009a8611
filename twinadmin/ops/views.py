from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from twinadmin.ops.access import metrics_allowed
from twinadmin.ops.health import run_checks
from twinadmin.ops.metrics import render_latest


@csrf_exempt
@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, the broker and the vector index all answer in time, else 503
    naming what failed. No login, nothing secret: a load balancer polls it."""
    results = run_checks()
    failing = [name for name, result in results.items() if not result.ok]
    body: dict[str, Any] = {
        "status": "fail" if failing else "ok",
        "checks": {name: result.as_dict() for name, result in results.items()},
    }
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)


@csrf_exempt
@login_not_required
@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for the addresses and token the settings allow (twinadmin.ops.access)."""
    if not metrics_allowed(request):
        raise Http404
    return HttpResponse(render_latest(), content_type=CONTENT_TYPE_LATEST)
