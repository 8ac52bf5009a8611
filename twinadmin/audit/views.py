import uuid

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from twinadmin.accounts.roles import APPROVERS, AUDITORS, OPERATORS, role_required
from twinadmin.audit import selectors, story
from twinadmin.audit.exports import EXPORTERS
from twinadmin.audit.forms import AuditExportForm, AuditFilterForm, ReceiptUploadForm
from twinadmin.audit.keys import AuditKeyError, key_id, public_key_load, public_key_pem
from twinadmin.audit.models import AuditEntry
from twinadmin.audit.proofs import ProofDocumentError, proof_document_parse
from twinadmin.erasure.models import ErasureRequest
from twinadmin.erasure.receipts import erasure_receipt_check
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import BUTTON_ONCE_SECONDS, job_create
from twinadmin.lib.htmx import HtmxHttpRequest, partial_template, redirect_after_post

# Read-only for every role: auditors above all, but operators and approvers may check their work.
AUDIT_READERS = (AUDITORS, OPERATORS, APPROVERS)


def _filter_query(request: HttpRequest) -> str:
    """The filters of this request as a query string, without the page cursors."""
    params = request.GET.copy()
    for key in (*AuditFilterForm.CURSORS, "format"):
        params.pop(key, None)
    return params.urlencode()


@require_GET
@role_required(*AUDIT_READERS)
def entry_list(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    ctx = {"form": form, "query": _filter_query(request), "page": None}
    if form.is_valid():
        qs = selectors.audit_entry_filter(**form.filters())
        data = form.cleaned_data
        page = selectors.audit_entry_page(qs, before=data["before"], after=data["after"])
        intents = [e for e in page.entries if e.outcome == AuditEntry.Outcome.INTENT]
        outcomes = story.outcomes_of(intents, selectors.audit_outcome_candidates(intents))
        ctx["page"] = page
        ctx["rows"] = [(e, outcomes.get(e.seq)) for e in page.entries]  # an intent with its outcome
    if not request.htmx:
        ctx["head"] = selectors.audit_chain_head()
        ctx["actions"] = _action_choices(selectors.audit_action_names())
    # htmx only swaps 2xx responses in: the fragment carries the errors itself.
    status = 400 if form.errors and not request.htmx else 200
    return render(request, partial_template(request, "audit/entry_list.html", "rows"), ctx, status=status)


@require_GET
@role_required(*AUDIT_READERS)
def entry_detail(request: HttpRequest, seq: int) -> HttpResponse:
    entry = get_object_or_404(AuditEntry, seq=seq)
    expected_prev, has_next = selectors.audit_entry_neighbours(entry)
    ctx = {
        "entry": entry,
        "details": story.details_pretty(entry.details),
        "hash_ok": entry.compute_hash() == entry.entry_hash,
        "prev_ok": entry.prev_hash == expected_prev,
        "has_next": has_next,
    }
    return render(request, "audit/entry_detail.html", ctx)


def _action_choices(actions: list[str]) -> list[str]:
    """The filter's suggestions: every action, and before each family its prefix
    (`creator.erase.*` ahead of `creator.erase.approve`), so a whole family is one pick."""
    choices: list[str] = []
    for action in actions:
        parts = action.split(".")
        for depth in range(1, len(parts)):
            family = ".".join(parts[:depth]) + ".*"
            if family not in choices:
                choices.append(family)
        choices.append(action)
    return choices


@require_GET
@role_required(*AUDIT_READERS)
def story_show(request: HttpRequest, correlation_id: str) -> HttpResponse:
    """The entries of one correlation id (a request, a job, a run) as steps, oldest first."""
    try:
        if len(correlation_id) > 45:  # "urn:uuid:" and 36 characters at most
            raise ValueError
        correlation = uuid.UUID(correlation_id)
    except ValueError:
        return render(request, "audit/story.html", {"bad_id": correlation_id[:80]}, status=400)
    found = selectors.audit_story_entries(correlation)
    steps = story.step_fold(found.entries)
    ctx = {
        "correlation": correlation,
        "steps": steps,
        "groups": story.step_group(steps),  # runs of one action as one group, read at a glance
        "entries": len(found.entries),
        "truncated": found.truncated,
        "erasure": ErasureRequest.objects.filter(correlation_id=correlation).only("pk", "status").first(),
    }
    return render(request, "audit/story.html", ctx, status=200 if found.entries else 404)


@require_GET
@role_required(*AUDIT_READERS)
def entry_export(request: HttpRequest) -> HttpResponseBase:
    form = AuditExportForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(
            f"Bad export request: {form.errors.as_text()}", content_type="text/plain"
        )
    fmt = form.cleaned_data["format"]
    export, content_type = EXPORTERS[fmt]
    response = StreamingHttpResponse(export(selectors.audit_entry_filter(**form.filters())), content_type)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-entries-{stamp}.{fmt}"'
    return response


@require_http_methods(["GET", "POST"])
@role_required(*AUDIT_READERS)
def chain_verify(request: HttpRequest) -> HttpResponse:
    """GET shows the head and the last verification; POST starts a walk of the whole chain as a
    job (seconds at a million entries) and sends the browser to its progress page. Verifying is
    read-only, so every audit reader may start one."""
    if request.method == "POST":
        job = job_create(kind="audit_verify", user=request.user, once_within=BUTTON_ONCE_SECONDS)
        return redirect_after_post(request, job.get_absolute_url())
    last = Job.objects.filter(kind="audit_verify", status=Job.Status.SUCCEEDED).first()
    ctx = {"head": selectors.audit_chain_head(), "report": last.result if last else None, "last_job": last}
    return render(request, partial_template(request, "audit/chain_verify.html", "chain"), ctx)


@require_GET
@role_required(*AUDIT_READERS)
def public_key(request: HttpRequest) -> HttpResponse:
    """The key that signs checkpoints and receipts, for anyone who has to check one."""
    try:
        key = public_key_load()
    except AuditKeyError as exc:
        return render(request, "audit/public_key.html", {"error": str(exc)}, status=503)
    pem = public_key_pem(key)
    if request.GET.get("format") == "pem":
        response = HttpResponse(pem, content_type="application/x-pem-file")
        response["Content-Disposition"] = f'attachment; filename="twinadmin-audit-{key_id(key)}.pem"'
        return response
    return render(request, "audit/public_key.html", {"pem": pem, "key_id": key_id(key)})


@require_http_methods(["GET", "POST"])
@role_required(*AUDIT_READERS)
def receipt_verify(request: HttpRequest) -> HttpResponse:
    """Upload a signed receipt and see whether it holds (receipt_verify, in the browser)."""
    form = ReceiptUploadForm(request.POST or None, request.FILES or None)
    ctx: dict = {"form": form, "problems": None}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "audit/receipt_verify.html", ctx, status=400)
        try:
            key = public_key_load()
            document = proof_document_parse(form.cleaned_data["receipt"])
        except (AuditKeyError, ProofDocumentError) as exc:
            ctx["problems"] = [str(exc)]
            return render(request, "audit/receipt_verify.html", ctx, status=400)
        ctx["problems"] = erasure_receipt_check(document, key)
        if not ctx["problems"]:
            proof = document["audit_proof"]
            ctx.update(
                body=document["body"],
                entries=len(proof["entries"]),
                tree_size=proof["checkpoint"]["checkpoint"]["tree_size"],
            )
    return render(request, "audit/receipt_verify.html", ctx)
