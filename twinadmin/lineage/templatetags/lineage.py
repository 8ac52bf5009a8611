"""Lineage on the registry's creator and twin pages (their views belong to the registry app):
`{% lineage_for creator.creator_id as copies %}`, or for one twin
`{% lineage_for creator.creator_id twin.namespace as copies %}`."""

from django import template

from twinadmin.lineage.selectors import lineage_page_rows

register = template.Library()


@register.simple_tag
def lineage_for(creator_id: str, target: str | None = None):
    return lineage_page_rows(creator_id=creator_id, target=target)
