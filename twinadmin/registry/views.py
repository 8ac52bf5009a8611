from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from twinadmin.accounts.roles import OPERATORS, role_required
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import BUTTON_ONCE_SECONDS, job_create
from twinadmin.lib.htmx import HtmxHttpRequest, partial_template, redirect_after_post
from twinadmin.registry import selectors
from twinadmin.registry.browse import selectors as browse
from twinadmin.registry.browse.forms import VectorDetailForm, VectorListForm
from twinadmin.registry.drift import PAGE_LIMIT, drift_report_build
from twinadmin.registry.forms import (
    CreatorForm,
    CreatorSearchForm,
    NamespaceSearchForm,
    OrphanRegisterForm,
    TwinForm,
)
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import RegistryError, creator_create, orphan_register_as_twin, twin_create


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@require_GET
@role_required()
def overview(request: HttpRequest) -> HttpResponse:
    overview_data = selectors.overview_get()
    _page, rows = selectors.namespace_page()
    ctx = {"overview": overview_data, "rows": rows, "stale": overview_data.is_stale}
    return render(request, "registry/overview.html", ctx)


@require_GET
@role_required()
def namespace_list(request: HttpRequest) -> HttpResponse:
    form = NamespaceSearchForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    page, rows = selectors.namespace_page(
        kind=data.get("kind") or "", q=data.get("q") or "", page=data.get("page") or 1
    )
    ctx = {"form": form, "page": page, "rows": rows, "query": _query_without_page(request)}
    return render(request, partial_template(request, "registry/namespace_list.html", "rows"), ctx)


@require_GET
@role_required()
def creator_list(request: HttpRequest) -> HttpResponse:
    form = CreatorSearchForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    page = selectors.creator_page(
        q=data.get("q") or "", status=data.get("status") or "", page=data.get("page") or 1
    )
    ctx = {"form": form, "page": page, "query": _query_without_page(request)}
    return render(request, partial_template(request, "registry/creator_list.html", "rows"), ctx)


@require_http_methods(["GET", "POST"])
@role_required(OPERATORS)
def creator_new(request: HttpRequest) -> HttpResponse:
    form = CreatorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            creator = creator_create(actor=request.user, **form.cleaned_data)
        except RegistryError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Creator {creator.creator_id} created.")
            return redirect("registry-creator-detail", creator_id=creator.creator_id)
    return render(request, "registry/creator_form.html", {"form": form}, status=400 if form.errors else 200)


@require_GET
@role_required()
def creator_detail(request: HttpRequest, creator_id: str) -> HttpResponse:
    creator = get_object_or_404(Creator, creator_id=creator_id)
    ctx = {
        "creator": creator,
        "shared": selectors.creator_namespace_count(creator),
        "twins": creator.twins.order_by("twin_id"),
        "orphans": selectors.creator_orphan_namespaces(creator),
    }
    return render(request, "registry/creator_detail.html", ctx)


@require_http_methods(["GET", "POST"])
@role_required(OPERATORS)
def twin_new(request: HttpRequest, creator_id: str) -> HttpResponse:
    creator = get_object_or_404(Creator, creator_id=creator_id)
    form = TwinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            twin = twin_create(creator=creator, actor=request.user, **form.cleaned_data)
        except RegistryError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Twin {twin.twin_id} added: namespace {twin.namespace}.")
            return redirect("registry-twin-detail", creator_id=creator.creator_id, twin_id=twin.twin_id)
    ctx = {"form": form, "creator": creator}
    return render(request, "registry/twin_form.html", ctx, status=400 if form.errors else 200)


@require_GET
@role_required()
def twin_detail(request: HttpRequest, creator_id: str, twin_id: str) -> HttpResponse:
    twin = get_object_or_404(
        Twin.objects.select_related("creator"), creator__creator_id=creator_id, twin_id=twin_id
    )
    return render(request, "registry/twin_detail.html", {"twin": twin, "creator": twin.creator})


@require_GET
@role_required()
def drift_report(request: HttpRequest) -> HttpResponse:
    # The erasure alarms are re-read from the index; the other lists come from the snapshot.
    report = drift_report_build(limit=PAGE_LIMIT)
    ctx = {"report": report, "limit": PAGE_LIMIT, "last_job": Job.objects.filter(kind="drift_report").first()}
    return render(request, "registry/drift.html", ctx)


@require_POST
@role_required(OPERATORS)
def drift_run(request: HttpRequest) -> HttpResponse:
    job = job_create(kind="drift_report", user=request.user, once_within=BUTTON_ONCE_SECONDS)
    return redirect_after_post(request, job.get_absolute_url())


@require_POST
@role_required(OPERATORS)
def orphan_register(request: HttpRequest) -> HttpResponse:
    form = OrphanRegisterForm(request.POST)
    # Plain text: the refusal quotes the namespace as typed, which must not be read as HTML.
    if not form.is_valid():
        return HttpResponseBadRequest(_form_problem(form), content_type="text/plain; charset=utf-8")
    try:
        twin = orphan_register_as_twin(
            namespace=form.cleaned_data["namespace"], name=form.cleaned_data["name"], actor=request.user
        )
    except RegistryError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    messages.success(request, f"Registered {twin.namespace} as twin {twin.twin_id}.")
    return redirect("registry-twin-detail", creator_id=twin.creator.creator_id, twin_id=twin.twin_id)


@require_POST
@role_required()  # any role: approvers and auditors can bring what they look at up to date
def index_refresh(request: HttpRequest) -> HttpResponse:
    job = job_create(kind="refresh_index", user=request.user, once_within=BUTTON_ONCE_SECONDS)
    return redirect_after_post(request, job.get_absolute_url())


def _form_problem(form: forms.Form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


@require_GET
@role_required()  # any role, as the namespace list: it only reads
def vector_list(request: HtmxHttpRequest) -> HttpResponse:
    form = VectorListForm(request.GET)
    ctx: dict = {"form": form, "ns": None, "page": None, "problem": "", "status": 200}
    if form.is_valid():
        data = form.cleaned_data
        ctx["ns"] = browse.namespace_get(name=data["namespace"])
        carried = {"namespace": ctx["ns"].name, **({"pick": data["pick"]} if data["pick"] else {})}
        ctx["ns_query"] = urlencode(carried)
        try:
            ctx["page"] = browse.id_page(ctx["ns"], prefix=data["prefix"], token=data["token"])
        except browse.BrowseError as exc:
            ctx["problem"], ctx["status"] = str(exc), exc.status
    else:
        ctx["problem"], ctx["status"] = _form_problem(form), 400
    # htmx does not swap a 4xx answer: the fragment carries the problem with a 200.
    status = 200 if request.htmx else ctx["status"]
    return render(request, partial_template(request, "registry/vector_list.html", "rows"), ctx, status=status)


@require_GET
@role_required()
def vector_detail(request: HttpRequest) -> HttpResponse:
    form = VectorDetailForm(request.GET)
    ctx: dict = {"form": form, "ns": None, "vector": None, "problem": "", "status": 200}
    if form.is_valid():
        data = form.cleaned_data
        ctx["ns"] = browse.namespace_get(name=data["namespace"])
        ctx["pick"] = data["pick"]
        try:
            ctx["vector"] = browse.vector_get(ctx["ns"], vector_id=data["id"])
        except browse.BrowseError as exc:
            ctx["problem"], ctx["status"] = str(exc), exc.status
    else:
        ctx["problem"], ctx["status"] = _form_problem(form), 400
    return render(request, "registry/vector_detail.html", ctx, status=ctx["status"])
