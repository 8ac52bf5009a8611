from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from migrations_app import selectors
from migrations_app.forms import CancelForm, DiscoverForm, PlanForm
from migrations_app.models import NamespaceMigration
from migrations_app.planning import PlanError
from migrations_app.services import (
    MigrationStateError,
    migration_cancel,
    migration_create,
    migration_enqueue,
    migration_preview,
    migration_resume,
    migration_rollback,
)
from twinadmin.accounts.roles import OPERATORS, role_required
from twinadmin.jobs.leases import job_worker_lost
from twinadmin.lib.htmx import HtmxHttpRequest, partial_template, render_polling
from twinadmin.vectors import VectorError


@require_GET
@role_required()
def run_list(request: HttpRequest) -> HttpResponse:
    ctx = {"page": selectors.run_page(page=request.GET.get("page")), **selectors.discovery_counts()}
    return render(request, "migrations_app/run_list.html", ctx)


@require_GET
@role_required()
def discover(request: HtmxHttpRequest) -> HttpResponse:
    form = DiscoverForm(request.GET)
    form.is_valid()
    kind = form.cleaned_data.get("kind") or ""
    page, rows = selectors.discovery_rows(kind=kind, page=form.cleaned_data.get("page") or 1)
    ctx = {"form": form, "page": page, "rows": rows, "query": f"kind={kind}"}
    return render(request, partial_template(request, "migrations_app/discover.html", "rows"), ctx)


@require_http_methods(["GET", "POST"])
@role_required(OPERATORS)
def run_new(request: HttpRequest) -> HttpResponse:
    """GET: the plan form. POST "preview": the dry run (nothing written). POST "start": save
    the plan as a run and queue it; refused with the preview when it has conflicts."""
    form, plan = PlanForm(request.POST or None), None
    if request.method == "POST" and form.is_valid():
        try:
            if request.POST.get("action") == "start":
                run = migration_create(actor=request.user, **form.plan_args())
                migration_enqueue(run=run)
                return redirect(run.get_absolute_url())
            plan = migration_preview(**form.plan_args())
        except (PlanError, VectorError) as exc:
            form.add_error(None, str(exc))
            plan = _preview_or_none(form)
    status = 400 if form.errors else 200
    return render(request, "migrations_app/run_form.html", {"form": form, "plan": plan}, status=status)


def _preview_or_none(form: PlanForm):
    try:
        return migration_preview(**form.plan_args())
    except (PlanError, VectorError):
        return None


@require_GET
@role_required()
def run_detail(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(NamespaceMigration, pk=run_id)
    items = selectors.run_items(run)
    # Its job's lease lapsed: the sweep hands it to a live worker within seconds; say so
    # instead of "running".
    lost = run.is_active and run.job is not None and job_worker_lost(run.job)
    ctx = {
        "run": run,
        "items": items,
        "report": selectors.run_report(run, items),
        "overall": selectors.run_progress(run, items),
        "in_flight": selectors.IN_FLIGHT_STEPS,
        "resumable": run.can_resume or lost,
        "worker_lost": lost,
    }
    return render_polling(request, "migrations_app/run_detail.html", ctx, finished=not run.is_active)


def _act(
    request: HttpRequest, run_id: int, action: Callable[..., NamespaceMigration], done: str
) -> HttpResponse:
    run = get_object_or_404(NamespaceMigration, pk=run_id)
    try:
        action(run=run, actor=request.user)
    except MigrationStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect(run.get_absolute_url())


@require_POST
@role_required(OPERATORS)
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    form = CancelForm(request.POST)
    if not form.is_valid():
        run = get_object_or_404(NamespaceMigration, pk=run_id)
        messages.error(request, "Give a reason to cancel the run; nothing was changed.")
        return redirect(run.get_absolute_url())

    def cancel(*, run: NamespaceMigration, actor: object) -> NamespaceMigration:
        return migration_cancel(run=run, actor=actor, reason=form.cleaned_data["reason"])

    return _act(request, run_id, cancel, "Cancel requested: the run stops at its next checkpoint.")


@require_POST
@role_required(OPERATORS)
def run_resume(request: HttpRequest, run_id: int) -> HttpResponse:
    return _act(request, run_id, migration_resume, "Resumed from the last checkpoint.")


@require_POST
@role_required(OPERATORS)
def run_rollback(request: HttpRequest, run_id: int) -> HttpResponse:
    return _act(request, run_id, migration_rollback, "Rollback queued.")
