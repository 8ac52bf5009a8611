"""An audit log read as a story: the entries of one correlation id folded into steps.

The writers follow two conventions for "what was about to happen, then what happened"
(audit_record's callers, DESIGN.md "an audit entry before and after"):

- one action written twice on one target: `creator.erase.lineage` as `intent`, then as
  `success` or `failure` (lineage sources, backup deletion, pipeline steps);
- a pair of actions on one target: `twin.delete.start` (`intent`) then `twin.delete.finish`
  (`success` / `failure`); `.resume` re-opens, `.end`, `.failed`, `.cancelled` also close.

This module owns that rule: `step_fold` turns entries (oldest first) into steps, each an intent
with the outcome that closed it, or a single entry; `step_group` then gathers runs of consecutive
steps of one action (an erasure's thirty backup deletions) into one group an auditor reads at a
glance. Nothing here reads the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twinadmin.audit.models import AuditEntry

Outcome = AuditEntry.Outcome

# Last words of an action that open a step (`x.start`) or close one (`x.finish`): both stand
# for the step `x`. Any other action is its own step name (`x.lineage` opens and closes `x.lineage`).
OPENING_WORDS = frozenset({"start", "begin", "resume", "intent"})
CLOSING_WORDS = frozenset(
    {"finish", "end", "done", "complete", "success", "failure", "failed", "cancelled", "succeeded"}
)

# Details up to this many lines are shown open; longer ones are folded (<details>).
DETAILS_OPEN_LINES = 12

StepKey = tuple[str, str, str, str]  # correlation id, step name, target type, target id


@dataclass(frozen=True)
class PrettyDetails:
    """An entry's details as an auditor reads them: indented JSON, keys sorted."""

    text: str
    lines: int

    @property
    def empty(self) -> bool:
        return self.text == "{}"

    @property
    def long(self) -> bool:
        return self.lines > DETAILS_OPEN_LINES


def details_pretty(details: Any) -> PrettyDetails:
    """The one way details are pretty-printed (indent 2, sorted keys; templates escape it)."""
    text = json.dumps(details, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return PrettyDetails(text=text, lines=text.count("\n") + 1)


def _name_and_word(action: str) -> tuple[str, str]:
    stem, _, word = action.rpartition(".")
    return (stem, word) if stem else (action, "")


def _key(entry: AuditEntry, words: frozenset[str]) -> StepKey:
    stem, word = _name_and_word(entry.action)
    name = stem if word in words else entry.action
    return (str(entry.correlation_id), name, entry.target_type, entry.target_id)


def opening_key(entry: AuditEntry) -> StepKey | None:
    """The step an intent opens; None for entries that open nothing."""
    return _key(entry, OPENING_WORDS) if entry.outcome == Outcome.INTENT else None


def closing_key(entry: AuditEntry) -> StepKey | None:
    """The step a success or failure may close; None for intents and info entries."""
    if entry.outcome not in (Outcome.SUCCESS, Outcome.FAILURE):
        return None
    return _key(entry, CLOSING_WORDS)


def state_badge(state: str) -> str:
    """A badge class of app.css for a step's or a group's state: green, red, amber, or plain."""
    return {
        "succeeded": "succeeded",
        "failed": "failed",
        "pending": "pending",
        "interrupted": "pending",
    }.get(state, "info")


@dataclass
class Step:
    """One thing that happened: an intent and the outcome that closed it, or a lone entry."""

    first: AuditEntry
    outcome: AuditEntry | None = None
    superseded: bool = False  # an intent re-opened later (a resumed job) and never closed itself
    entries: list[AuditEntry] = field(default_factory=list)

    @property
    def last(self) -> AuditEntry:
        return self.outcome or self.first

    @property
    def name(self) -> str:
        opened = opening_key(self.first)
        return opened[1] if opened is not None else self.first.action

    @property
    def state(self) -> str:
        """succeeded / failed / pending / interrupted (an intent with no outcome) / info."""
        outcome = self.last.outcome
        if outcome == Outcome.SUCCESS:
            return "succeeded"
        if outcome == Outcome.FAILURE:
            return "failed"
        if outcome == Outcome.INTENT:
            return "interrupted" if self.superseded else "pending"
        return "info"

    @property
    def badge(self) -> str:
        """A badge class of app.css: green, red, amber, or plain."""
        return state_badge(self.state)

    @property
    def actors(self) -> list[str]:
        return list(dict.fromkeys(e.actor for e in (self.first, self.outcome) if e is not None))

    @property
    def summary(self) -> str:
        return step_summary(self)

    @property
    def entry_details(self) -> list[tuple[AuditEntry, PrettyDetails]]:
        return [(e, details_pretty(e.details)) for e in self.entries]


def step_fold(entries: Iterable[AuditEntry]) -> list[Step]:
    """Steps in the order they began. An outcome closes the most recent open intent of its step
    (same correlation, step name and target); an outcome that closes nothing, and every other
    entry, is a step of its own. An intent left open when a later intent of the same step opens
    (a job resumed after its worker died) is marked superseded."""
    steps: list[Step] = []
    open_steps: dict[StepKey, list[Step]] = {}
    for entry in entries:
        close = closing_key(entry)
        if close is not None and open_steps.get(close):
            step = open_steps[close].pop()
            step.outcome = entry
            step.entries.append(entry)
            for earlier in open_steps[close]:
                earlier.superseded = True
            open_steps[close].clear()
            continue
        step = Step(first=entry, entries=[entry])
        steps.append(step)
        opening = opening_key(entry)
        if opening is not None:
            for earlier in open_steps.setdefault(opening, []):
                earlier.superseded = True
            open_steps[opening].append(step)
    return steps


def outcomes_of(intents: Sequence[AuditEntry], later: Iterable[AuditEntry]) -> dict[int, AuditEntry]:
    """seq of each intent in `intents` → the entry among `later` that closed it (list pages)."""
    steps = step_fold(sorted([*intents, *later], key=lambda e: e.seq))
    wanted = {e.seq for e in intents}
    return {s.first.seq: s.outcome for s in steps if s.first.seq in wanted and s.outcome is not None}


# --- groups of steps -----------------------------------------------------------------------------

# A group reads as its worst member: failed, then pending (no outcome yet), then interrupted.
STATE_RANK = {"info": 0, "succeeded": 1, "interrupted": 2, "pending": 3, "failed": 4}
# The order a group's counts are told in ("29 succeeded, 1 failed").
STATE_ORDER = ("succeeded", "failed", "pending", "interrupted", "info")
# Steps that frame a story are never gathered, wherever they fall: each request, approval or
# rejection is one person's decision, and the erasure's own start/finish is what it came to.
UNGROUPED = frozenset(
    {
        "creator.erase.request",
        "creator.erase.approve",
        "creator.erase.reject",
        "creator.erase.retry",
        "creator.erase",
        "twin.delete.request",
    }
)
# What a group of one step name is called, its count in front ("30 × Backup deleted").
GROUP_NAMES: dict[str, str] = {
    "migration.backup.delete": "Backup deleted",
    "creator.erase.lineage": "Copied vectors erased from a lineage source",
    "twin.delete": "Twin deleted",
    "migration.backup.create": "Backup written",
    "migration.verify": "Copy verified",
    "migration.cutover.register": "Twin registered from its copy",
    "migration.source.delete": "Source deleted after its copy verified",
    "migration.rollback.delete_target": "Copy deleted by the rollback",
    "migration.rollback.registry": "Registry entry restored",
    "migration.rollback.restore": "Source restored from its backup",
    "twin.create": "Twin registered",
}


@dataclass
class StepGroup:
    """Consecutive steps of one step name, or a single step (`grouped` is False)."""

    members: list[Step] = field(default_factory=list)

    @property
    def grouped(self) -> bool:
        return len(self.members) > 1

    @property
    def first(self) -> Step:
        return self.members[0]

    @property
    def name(self) -> str:
        return self.first.name

    @property
    def state(self) -> str:
        return max((m.state for m in self.members), key=lambda s: STATE_RANK.get(s, 0))

    @property
    def badge(self) -> str:
        return state_badge(self.state)

    @property
    def counts(self) -> dict[str, int]:
        """Members per state, in STATE_ORDER, states no member is in left out."""
        states = [m.state for m in self.members]
        return {s: states.count(s) for s in STATE_ORDER if s in states}

    @property
    def summary(self) -> str:
        """ "30 × Backup deleted — all succeeded", "3 × … — 2 succeeded, 1 failed"."""
        label = GROUP_NAMES.get(self.name)
        if label is None:
            target = self.first.first.target_type
            label = self.name.replace(".", " ").replace("_", " ").capitalize()
            label += f" ({target})" if target else ""
        counts = self.counts
        if list(counts) == ["info"]:
            told = ""
        elif len(counts) == 1:
            told = f" — all {next(iter(counts))}"
        else:
            told = " — " + ", ".join(f"{n} {state}" for state, n in counts.items())
        return f"{len(self.members)} × {label}{told}"


def step_group(steps: Sequence[Step]) -> list[StepGroup]:
    """Runs of consecutive steps with one step name, each as one group; every other step, and
    every step that frames the story (UNGROUPED), a group of one."""
    groups: list[StepGroup] = []
    joinable = False  # may the next step join the last group?
    for step in steps:
        alone = step.name in UNGROUPED
        if not alone and joinable and groups[-1].name == step.name:
            groups[-1].members.append(step)
            continue
        groups.append(StepGroup(members=[step]))
        joinable = not alone
    return groups


# --- readable summaries ------------------------------------------------------------------------

# Sentences for the steps an auditor meets most: {target} is the target id, {creator} the
# creator. A step with an intent reads as its first sentence until its outcome says it
# succeeded. Anything else reads from its action's words and its target.
SENTENCES: dict[str, tuple[str, str]] = {
    "creator.erase.request": ("Erasure of creator {creator} requested", ""),
    "creator.erase.approve": ("Erasure of creator {creator} approved", ""),
    "creator.erase.reject": ("Erasure of creator {creator} rejected", ""),
    "creator.erase.retry": ("Erasure of creator {creator} retried", ""),
    "creator.erase": (
        "Erasure of creator {creator}",
        "Creator {creator} erased: namespaces deleted and verified",
    ),
    "creator.erase.lineage": (
        "Erasure of copied vectors in lineage source {target}",
        "Copied vectors erased from lineage source {target}",
    ),
    "migration.cancel_for_creator": ("Migrations of creator {creator} cancelled before the erasure", ""),
    "twin.delete.request": ("Deletion of twin {target} requested", ""),
    "twin.delete": ("Deletion of twin {target}", "Twin {target} deleted and verified"),
    "migration.backup.delete": ("Deletion of backup {target}", "Backup {target} deleted"),
    "migration.backup_key.destroy": (
        "Destruction of the backup key of creator {creator}",
        "Backup key of creator {creator} destroyed: no copy of its backups can be read again",
    ),
    "migration.plan.create": ("Migration run {target} planned", ""),
    "migration.backup.create": ("Backup {target} written", ""),
    "migration.verify": ("Copy in {target} verified", ""),
    "migration.cutover": ("Cut-over of run {target}", "Run {target} cut over"),
    "migration.cutover.register": ("Twin {target} registered from its copy", ""),
    "migration.source.delete": ("Source {target} deleted after its copy verified", ""),
    "migration.run": ("Migration run {target}", "Migration run {target} finished"),
    "migration.run.finish": ("Migration run {target} finished", ""),
    "migration.run.failed": ("Migration run {target} failed", ""),
    "migration.run.resume": ("Migration run {target} resumed", ""),
    "migration.run.cancel": ("Cancel of migration run {target} requested", ""),
    "migration.run.cancelled": ("Migration run {target} cancelled", ""),
    "migration.run.continue": ("Migration run {target} continued", ""),
    "migration.rollback": ("Rollback of migration run {target}", "Migration run {target} rolled back"),
    "migration.rollback.delete_target": ("Rollback deleting copy {target}", "Copy {target} deleted"),
    "migration.rollback.registry": ("Registry entry of twin {target} restored", ""),
    "migration.rollback.creator": ("Creator {target} removed by the rollback", ""),
    "migration.rollback.restore": ("Source {target} restored from its backup", ""),
    "creator.create": ("Creator {target} registered", ""),
    "creator.update": ("Creator {target} renamed", ""),
    "twin.update": ("Twin {target} renamed", ""),
    "twin.create": ("Twin {target} registered", ""),
    "twin.register_orphan": ("Orphan namespace registered as twin {target}", ""),
    "job.cancel": ("Job {target} cancelled", ""),
    "decision.keep": ("Decision recorded for creator {creator}: keep the migrated data", ""),
}
STATE_SUFFIX = {
    "failed": " — failed",
    "pending": " — started, no outcome recorded yet",
    "interrupted": " — interrupted, continued by a later attempt",
}
# Figures worth a glance, in this order, when the details carry them (zeros left out).
FIGURES = (
    ("vectors_before", "{} vectors before"),
    ("namespaces", "namespaces: {}"),
    ("orphans", "orphans: {}"),
    ("lineage_sources", "lineage sources: {}"),
    ("verification_passes", "verification passes: {}"),
    ("files_removed", "files removed: {}"),
    ("ticket", "ticket {}"),
    ("reason", "reason: {}"),
    ("error", "error: {}"),
)
SUMMARY_MAX = 300


def step_summary(step: Step) -> str:
    """One line an auditor can read: what the step did, to what, with its main figures."""
    first, last = step.first, step.last
    ongoing, done = SENTENCES.get(step.name, ("", ""))
    if not ongoing:
        target = f" {first.target_type} {first.target_id}".rstrip()
        ongoing = step.name.replace(".", " ").replace("_", " ").capitalize() + target
    sentence = done if (done and step.state == "succeeded") else ongoing + STATE_SUFFIX.get(step.state, "")
    text = sentence.format(target=first.target_id, creator=first.creator_id or first.target_id)
    merged: dict[str, Any] = {}
    for entry in (first, last):  # the outcome's figures win: they are what was found
        merged.update(entry.details if isinstance(entry.details, dict) else {})
    figures = _figures(merged)
    if figures:
        text += f" ({figures})"
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def _figures(details: dict[str, Any]) -> str:
    shown = []
    for key, label in FIGURES:
        value = details.get(key)
        if isinstance(value, list):
            value = len(value)
        if value in (None, "", 0) or isinstance(value, dict | bool):
            continue
        shown.append(label.format(str(value)[:120]))
    if details.get("verified") is True:
        shown.append("verified")
    return ", ".join(shown)
