"""What an erasure drill must leave behind: nothing of its scratch creator."""

from __future__ import annotations

from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin
from twinadmin.vectors import get_index

NOTHING = {"namespaces": [], "creators": 0, "twins": 0}


def leftovers(creator_id: str) -> dict:
    """What of a scratch creator is still anywhere: namespaces in the index, registry rows."""
    prefix = codec.creator_namespace(creator_id)
    names = [
        info.name
        for info in get_index().iter_namespaces(prefix=prefix)
        if codec.parse_namespace(info.name).is_owned_by(creator_id)
    ]
    return {
        "namespaces": names,
        "creators": Creator.objects.filter(creator_id=creator_id).count(),
        "twins": Twin.objects.filter(creator__creator_id=creator_id).count(),
    }
