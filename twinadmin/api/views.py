"""The API's pages: clients (superusers only: a token is a standing credential) and the webhook
delivery log with its resend button (operators, who follow erasures)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from twinadmin.accounts.roles import OPERATORS, forbidden, role_required
from twinadmin.api import selectors
from twinadmin.api.forms import ApiClientForm, DeliveryFilterForm
from twinadmin.api.models import EVENTS
from twinadmin.api.services import ApiInputError, api_client_create, api_client_revoke
from twinadmin.api.webhooks import webhook_delivery_resend


def superuser_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @role_required()
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_superuser:
            return forbidden(request, "Only a superuser manages API clients.")
        return view(request, *args, **kwargs)

    return wrapper


@require_http_methods(["GET", "POST"])
@superuser_required
def client_list(request: HttpRequest) -> HttpResponse:
    form = ApiClientForm(request.POST or None)
    token = None
    if request.method == "POST" and form.is_valid():
        try:
            client, token = api_client_create(
                name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"], actor=request.user
            )
        except ApiInputError as exc:
            form.add_error(None, str(exc))
        else:
            form = ApiClientForm()
            messages.success(request, f"Client {client.name} created. Copy its token now: it is shown once.")
    ctx = {"form": form, "clients": selectors.api_client_list(), "token": token, "nav_section": "api"}
    return render(request, "api/clients.html", ctx, status=400 if form.errors else 200)


@require_POST
@superuser_required
def client_revoke(request: HttpRequest, name: str) -> HttpResponse:
    try:
        api_client_revoke(name=name, actor=request.user)
    except ApiInputError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Client {name}'s token is revoked.")
    return redirect("api-list-clients")


@require_GET
@role_required(OPERATORS)
def delivery_list(request: HttpRequest) -> HttpResponse:
    form = DeliveryFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    page = selectors.delivery_page(event=data.get("event") or "", page=data.get("page") or 1)
    ctx = {"page": page, "events": EVENTS, "event": data.get("event") or "", "nav_section": "api"}
    return render(request, "api/deliveries.html", ctx)


@require_POST
@role_required(OPERATORS)
def delivery_resend(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        delivery = webhook_delivery_resend(delivery_id=pk, actor=request.user)
    except ApiInputError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Delivery {delivery.pk} ({delivery.event}) is sent again.")
    return redirect("api-list-deliveries")
