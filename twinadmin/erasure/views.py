from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from twinadmin.accounts.roles import APPROVERS, OPERATORS, forbidden, role_required
from twinadmin.erasure import selectors
from twinadmin.erasure.forms import (
    ApproveForm,
    ErasureRequestForm,
    RejectForm,
    RequestFilterForm,
    TwinDeleteForm,
)
from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.erasure.receipts import erasure_receipt
from twinadmin.erasure.services import (
    ErasureError,
    ErasureForbidden,
    erasure_needs_retry,
    erasure_request_approve,
    erasure_request_file,
    erasure_request_reject,
    erasure_request_retry,
    erasure_scope_live,
    twin_deletion_request,
)
from twinadmin.jobs.leases import job_worker_lost
from twinadmin.lib.htmx import HtmxHttpRequest, redirect_after_post, render_polling
from twinadmin.registry.models import Creator, Twin


@require_GET
@role_required()
def request_list(request: HttpRequest) -> HttpResponse:
    form = RequestFilterForm(request.GET)
    form.is_valid()
    state = form.cleaned_data.get("state") or "open"
    page = selectors.erasure_request_page(state=state, page=form.cleaned_data.get("page") or 1)
    return render(request, "erasure/request_list.html", {"page": page, "state": state, "states": form.STATES})


@require_http_methods(["GET", "POST"])
@role_required(OPERATORS)
def request_new(request: HttpRequest, creator_id: str) -> HttpResponse:
    creator = get_object_or_404(Creator, creator_id=creator_id)
    form = ErasureRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            erasure = erasure_request_file(
                creator_id=creator.creator_id, actor=request.user, **form.cleaned_data
            )
        except ErasureError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Erasure request #{erasure.pk} filed; another approver must approve it."
            )
            return redirect(erasure.get_absolute_url())
    ctx = {"form": form, "creator": creator, **_scope_context(creator.creator_id)}
    return render(request, "erasure/request_form.html", ctx, status=400 if form.errors else 200)


def _scope_context(creator_id: str) -> dict:
    """The impact preview, read live; an unreadable index is said, not a 500."""
    try:
        return {"scope": erasure_scope_live(creator_id=creator_id)}
    except ErasureError as exc:
        return {"scope": None, "scope_error": str(exc)}


@require_GET
@role_required()
def request_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    erasure = get_object_or_404(ErasureRequest.objects.select_related("job"), pk=pk)
    can_decide = erasure.status == ErasureRequest.Status.PENDING and erasure.can_be_decided_by(request.user)
    # Pending requests show what approving would erase, read now (pending pages do not poll).
    live = _scope_context(erasure.creator_id) if erasure.status == ErasureRequest.Status.PENDING else {}
    scope = live.get("scope")
    ctx = {
        **live,
        "approve_form": ApproveForm(initial={"scope_digest": scope.digest if scope else ""}),
        "erasure": erasure,
        "counts": selectors.erasure_status_counts(erasure),
        "namespaces": erasure.namespaces.all(),
        "backups": erasure.backups.all(),
        "can_decide": can_decide,
        "own_request": erasure.is_requested_by(request.user),
        "can_retry": erasure_needs_retry(erasure),
        "worker_lost": erasure.job is not None and job_worker_lost(erasure.job),
        "reject_form": RejectForm(),
    }
    finished = not erasure.is_active or erasure_needs_retry(erasure)
    return render_polling(request, "erasure/request_detail.html", ctx, finished=finished)


def _act(
    request: HttpRequest, pk: int, action: Callable[[ErasureRequest], object], done: str
) -> HttpResponse:
    """Run one state change of a request; four-eyes refusals are 403, other refusals a message."""
    erasure = get_object_or_404(ErasureRequest, pk=pk)
    try:
        action(erasure)
    except ErasureForbidden as exc:
        return forbidden(request, str(exc))
    except ErasureError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Request #{erasure.pk} {done}.")
    return redirect_after_post(request, erasure.get_absolute_url())


@require_POST
@role_required(APPROVERS)
def request_approve(request: HttpRequest, pk: int) -> HttpResponse:
    form = ApproveForm(request.POST)
    form.is_valid()

    def approve(erasure: ErasureRequest) -> object:
        return erasure_request_approve(
            erasure=erasure,
            actor=request.user,
            confirm=form.cleaned_data.get("confirm", ""),
            scope_digest=form.cleaned_data.get("scope_digest", ""),
        )

    return _act(request, pk, approve, "approved; the erasure is running")


@require_POST
@role_required(APPROVERS)
def request_reject(request: HttpRequest, pk: int) -> HttpResponse:
    form = RejectForm(request.POST)
    form.is_valid()

    def reject(erasure: ErasureRequest) -> object:
        return erasure_request_reject(
            erasure=erasure, actor=request.user, note=form.cleaned_data.get("note", "")
        )

    return _act(request, pk, reject, "rejected")


@require_POST
@role_required(OPERATORS)
def request_retry(request: HttpRequest, pk: int) -> HttpResponse:
    def retry(erasure: ErasureRequest) -> object:
        return erasure_request_retry(erasure=erasure, actor=request.user)

    return _act(request, pk, retry, "started again")


@require_GET
@role_required()
def request_receipt(request: HttpRequest, pk: int) -> HttpResponse:
    erasure = get_object_or_404(ErasureRequest, pk=pk)
    return render(request, "erasure/receipt.html", {"erasure": erasure, "receipt": erasure_receipt(erasure)})


@require_GET
@role_required()
def request_receipt_json(request: HttpRequest, pk: int) -> HttpResponse:
    erasure = get_object_or_404(ErasureRequest, pk=pk)
    response = JsonResponse(erasure_receipt(erasure), json_dumps_params={"indent": 2, "sort_keys": True})
    filename = f"erasure-receipt-{erasure.pk}-{erasure.creator_id}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "POST"])
@role_required(OPERATORS)
def twin_delete(request: HttpRequest, creator_id: str, twin_id: str) -> HttpResponse:
    twin = get_object_or_404(
        Twin.objects.select_related("creator"), creator__creator_id=creator_id, twin_id=twin_id
    )
    form = TwinDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            deletion = twin_deletion_request(
                creator_id=creator_id, twin_id=twin_id, actor=request.user, **form.cleaned_data
            )
        except ErasureError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect_after_post(request, deletion.get_absolute_url())
    ctx = {"form": form, "twin": twin, "creator": twin.creator}
    return render(request, "erasure/twin_delete.html", ctx, status=400 if form.errors else 200)


@require_GET
@role_required()
def twin_deletion_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    deletion = get_object_or_404(TwinDeletion.objects.select_related("job"), pk=pk)
    finished = deletion.is_finished or (deletion.job is not None and deletion.job.is_finished)
    ctx = {"deletion": deletion}
    return render_polling(request, "erasure/twin_deletion_detail.html", ctx, finished=finished)
