from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from twinadmin.accounts.roles import OPERATORS, role_required
from twinadmin.lib.htmx import HtmxHttpRequest, partial_template, redirect_after_post, render_polling
from twinadmin.registry.models import Creator
from twinadmin.search import selectors
from twinadmin.search.errors import SearchError
from twinadmin.search.forms import (
    CompareForm,
    CreatorPickForm,
    LatencyRunForm,
    MultiTwinSearchForm,
    QueryPickForm,
)
from twinadmin.search.latency import latency_report_create
from twinadmin.search.services import multi_twin_search
from twinadmin.vectors import RateLimited


def _status(request: HtmxHttpRequest, form) -> int:
    # htmx does not swap 4xx responses by default: the fragment carries the errors with a 200.
    return 400 if form.errors and not request.htmx else 200


@require_GET
@role_required()
def search_home(request: HttpRequest) -> HttpResponse:
    # A vector picked in the browser ("find similar" from a namespace of no creator) rides along.
    pick = QueryPickForm(request.GET)
    form = CreatorPickForm(request.GET if "creator" in request.GET else None)
    if form.is_bound and form.is_valid() and pick.is_valid():
        creator_id = form.cleaned_data["creator"]
        if Creator.objects.filter(creator_id=creator_id).exists():
            url = reverse("search-search-twins", args=[creator_id])
            return redirect(f"{url}?{urlencode(pick.carried)}" if pick.carried else url)
        form.add_error("creator", f"Unknown creator {creator_id!r}.")
    ctx = {"form": form, "pick": pick}
    return render(request, "search/home.html", ctx, status=400 if form.errors or pick.errors else 200)


@require_http_methods(["GET", "POST"])
@role_required()
def search_twins(request: HtmxHttpRequest, creator_id: str) -> HttpResponse:
    """Any role may search: it only reads. A POST renders the results; from htmx, only them."""
    creator = get_object_or_404(Creator, creator_id=creator_id)
    pick = QueryPickForm(request.GET)  # a vector picked in the vector browser fills the form in
    form = MultiTwinSearchForm(
        request.POST or None, initial=pick.picked, twins=selectors.search_twin_choices(creator)
    )
    result = None
    throttled = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = multi_twin_search(
                creator_id=creator.creator_id,
                twin_ids=data["twins"],
                include_shared=data["include_shared"],
                vector=data["vector"],
                vector_id=data["vector_id"],
                vector_namespace=data["vector_namespace"],
                exclude_self=data["exclude_self"],
                top_k=data["top_k"],
                filter=data["filter"],
            )
        except SearchError as exc:
            form.add_error(None, str(exc))
            # The index's rate limit held past the page's deadline: "try again", not "bad input".
            throttled = isinstance(exc.__cause__, RateLimited)
    ctx = {"creator": creator, "form": form, "result": result, "pick": pick}
    ctx["picker"] = selectors.search_picker(creator)
    template = partial_template(request, "search/search.html", "results")
    status = 400 if pick.errors and not request.htmx else _status(request, form)
    if throttled and not request.htmx:
        status = 429
    return render(request, template, ctx, status=status)


@require_GET
@role_required()
def report_list(request: HttpRequest) -> HttpResponse:
    ctx = {"page": selectors.report_page(page=request.GET.get("page")), "form": LatencyRunForm()}
    return render(request, "search/report_list.html", ctx)


@require_POST
@role_required(OPERATORS)
def report_run(request: HttpRequest) -> HttpResponse:
    form = LatencyRunForm(request.POST)
    if form.is_valid():
        try:
            report = latency_report_create(params=form.cleaned_data, user=request.user)
        except SearchError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect_after_post(request, report.get_absolute_url())
    ctx = {"page": selectors.report_page(), "form": form}
    return render(request, "search/report_list.html", ctx, status=400)


@require_GET
@role_required()
def report_detail(request: HtmxHttpRequest, report_id: int) -> HttpResponse:
    report = selectors.report_get(report_id=report_id)
    if report is None:
        raise Http404("No such latency report.")
    rows = selectors.report_rows(report) if report.succeeded else []
    chart, left_out = selectors.report_chart(report, rows) if report.succeeded else ("", 0)
    ctx = {"report": report, "rows": rows, "chart": chart, "left_out": left_out}
    return render_polling(
        request, "search/report_detail.html", ctx, finished=report.is_finished, partial="report"
    )


@require_GET
@role_required()
def report_compare(request: HttpRequest) -> HttpResponse:
    # Both ids make a comparison; one alone (the report page's link) only fills the form in.
    bound = "a" in request.GET and "b" in request.GET
    form = CompareForm(request.GET if bound else None, initial=request.GET.dict())
    comparison = None
    if form.is_bound and form.is_valid():
        a = selectors.report_get(report_id=form.cleaned_data["a"])
        b = selectors.report_get(report_id=form.cleaned_data["b"])
        for key, report in (("a", a), ("b", b)):
            if report is None:
                form.add_error(key, "No such report.")
            elif not report.succeeded:
                form.add_error(key, "This report has no figures (still running, or its job failed).")
        if not form.errors and a is not None and b is not None:
            comparison = selectors.report_compare(a, b)
    ctx = {"form": form, "comparison": comparison, "recent": selectors.report_page().object_list}
    return render(request, "search/compare.html", ctx, status=400 if form.errors else 200)
