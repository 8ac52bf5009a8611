from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from twinadmin.accounts.roles import OPERATORS, has_role, role_required
from twinadmin.drills.forms import DecisionForm, StartFreshForm
from twinadmin.drills.models import DrillRun
from twinadmin.drills.selectors import DEFAULT_DECISION_CREATOR, decision_summary
from twinadmin.drills.services import DecisionRefused, DrillError, decision_keep_record, erasure_drill_start
from twinadmin.erasure.services import ErasureError, erasure_request_file

START_FRESH_REASON = "Decision point: delete the test creator's data and start fresh."


def _decision_url(creator_id: str) -> str:
    return f"{reverse('drills-decision')}?{urlencode({'creator': creator_id})}"


@require_GET
@role_required()
def drill_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(DrillRun.objects.select_related("job"), 50).get_page(request.GET.get("page"))
    return render(
        request, "drills/drill_list.html", {"page": page, "is_operator": has_role(request.user, OPERATORS)}
    )


@require_POST
@role_required(OPERATORS)
def drill_run(request: HttpRequest) -> HttpResponse:
    try:
        run = erasure_drill_start(actor=request.user)
    except DrillError as exc:
        messages.error(request, str(exc))
        return redirect("drills-list-runs")
    assert run.job is not None  # a drill is started with its job
    return redirect(run.job.get_absolute_url())


@require_GET
@role_required()
def decision(request: HttpRequest) -> HttpResponse:
    asked = request.GET.get("creator") or DEFAULT_DECISION_CREATOR
    form = DecisionForm({"creator": asked})
    if not form.is_valid():  # never another creator's summary in its place
        context = {"creator_id": asked[:80], "invalid": form.errors["creator"][0], "can_decide": False}
        return render(request, "drills/decision.html", context, status=400)
    context = {
        **decision_summary(creator_id=form.cleaned_data["creator"]),
        "is_operator": has_role(request.user, OPERATORS),
    }
    return render(request, "drills/decision.html", context)


@require_POST
@role_required(OPERATORS)
def decision_keep(request: HttpRequest) -> HttpResponse:
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Invalid creator id.", status=400)
    creator_id = form.cleaned_data["creator"]
    try:
        decision_keep_record(creator_id=creator_id, actor=request.user)
    except DecisionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Recorded: keep the migrated data of {creator_id}.")
    return redirect(_decision_url(creator_id))


@require_POST
@role_required(OPERATORS)
def decision_start_fresh(request: HttpRequest) -> HttpResponse:
    form = StartFreshForm(request.POST)
    if not form.is_valid():
        if "creator" in form.errors:
            return HttpResponse("Invalid creator id.", status=400)
        creator_id = form.cleaned_data["creator"]
        problem = f"To confirm, type the creator id {creator_id!r}." if "confirm" in form.errors else ""
        if "reason" in form.errors:
            problem = f"{problem} The reason is at most 500 characters.".strip()
        messages.error(request, f"{problem} Nothing was filed.")
        return redirect(_decision_url(creator_id))
    creator_id = form.cleaned_data["creator"]
    try:
        erasure = erasure_request_file(
            creator_id=creator_id,
            reason=form.cleaned_data["reason"] or START_FRESH_REASON,
            confirm=form.cleaned_data["confirm"],
            actor=request.user,
        )
    except ErasureError as exc:
        messages.error(request, f"{exc} Nothing was filed.")
        return redirect(_decision_url(creator_id))
    return redirect(erasure.get_absolute_url())
