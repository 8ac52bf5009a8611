from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from twinadmin.accounts.roles import OPERATORS, role_required
from twinadmin.jobs.forms import JobCancelForm
from twinadmin.jobs.handlers import known_kinds, produced_by
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import JobNotCancellable, JobNotRetryable, job_cancel, job_retry
from twinadmin.lib.htmx import HtmxHttpRequest, partial_template, redirect_after_post, render_polling


@require_GET
@role_required()
def job_list(request: HttpRequest) -> HttpResponse:
    qs = Job.objects.select_related("created_by")
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    if kind and kind not in known_kinds():
        return HttpResponseBadRequest("No such job kind: choose one from the list.")
    if status and status not in Job.Status.values:
        return HttpResponseBadRequest("No such job status: choose one from the list.")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    ctx = {
        "page": page,
        "kind": kind,
        "status": status,
        "query": params.urlencode(),
        "kinds": known_kinds(),
        "statuses": Job.Status.choices,
    }
    return render(request, partial_template(request, "jobs/job_list.html", "rows"), ctx)


@require_GET
@role_required()
def job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    produced = produced_by(job)
    if request.htmx and produced and job.status == Job.Status.SUCCEEDED:
        # Someone watched it run: take them to what it produced. Opened later, the page stays.
        return HttpResponseClientRedirect(produced[1])
    ctx = {"job": job, "produced": produced}
    return render_polling(request, "jobs/job_detail.html", ctx, finished=job.is_finished, partial="status")


@require_POST
@role_required(OPERATORS)
def job_cancel_view(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    form = JobCancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason (at most 500 characters) for cancelling. Nothing was changed.")
        return redirect_after_post(request, job.get_absolute_url())
    try:
        job_cancel(job_id=job.pk, actor=request.user, reason=form.cleaned_data["reason"])
    except JobNotCancellable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Job {job.pk} cancelled.")
    return redirect_after_post(request, job.get_absolute_url())


@require_POST
@role_required(OPERATORS)
def job_retry_view(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    try:
        new = job_retry(job_id=job.pk, user=request.user)
    except JobNotRetryable as exc:
        return HttpResponseBadRequest(str(exc))
    return redirect(new.get_absolute_url())
