"""Erasure history for the registry's creator and twin pages, whose views belong to the
registry app: `{% erasure_requests_for creator.creator_id as requests %}`."""

from django import template

from twinadmin.erasure import selectors

register = template.Library()


@register.simple_tag
def erasure_requests_for(creator_id: str):
    return list(selectors.erasure_requests_for_creator(creator_id)[:20])


@register.simple_tag
def twin_deletions_for(creator_id: str, twin_id: str):
    return list(selectors.twin_deletions_for_twin(creator_id, twin_id)[:10])
