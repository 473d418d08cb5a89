"""The funnel: leads → contacted → appointment set → shown → sold, per lead, pure.

A lead counts at a stage when it reached that stage or any later one, so every stage is a
subset of the one before. Each lead is one row however many inquiries credited it: duplicates
and repeat inquiries are timeline lines on one lead, and a merged lead counts as its survivor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

STAGES = ("leads", "contacted", "appointment", "shown", "sold")
STAGE_LABELS = {
    "leads": "Leads",
    "contacted": "Contacted",
    "appointment": "Appointment set",
    "shown": "Shown",
    "sold": "Sold",
}
# The lead status that proves a stage was reached (a lost lead proves nothing by its status).
_STATUS_STAGE = {"contacted": 1, "engaged": 1, "appointment": 2, "shown": 3, "sold": 4}
_APPOINTMENT_STAGE = {"shown": 3, "sold": 4}


@dataclass
class FunnelLead:
    """What the funnel needs to know about one lead."""

    lead_id: int
    source: str
    latest_source: str
    advisor_id: int | None
    status: str
    responded: bool
    appointment_statuses: list[str] = field(default_factory=list)
    stage: int = field(init=False)

    def __post_init__(self) -> None:
        # How far it got: 0 lead, 1 contacted, 2 appointment set, 3 shown, 4 sold.
        reached = _STATUS_STAGE.get(self.status, 0)
        if self.responded:
            reached = max(reached, 1)
        for status in self.appointment_statuses:
            reached = max(reached, _APPOINTMENT_STAGE.get(status, 2))
        self.stage = reached


@dataclass(frozen=True)
class FunnelRow:
    """Counts per stage for one group, with each stage's rate of the stage before."""

    label: str
    counts: tuple[int, int, int, int, int]

    def count(self, stage: str) -> int:
        return self.counts[STAGES.index(stage)]

    def rate(self, stage: str) -> float | None:
        """This stage over the one before (contacted over leads, shown over appointments…)."""
        index = STAGES.index(stage)
        before = self.counts[index - 1] if index else 0
        return self.counts[index] / before if index and before else None

    @property
    def sold_of_leads(self) -> float | None:
        """Sold over leads."""
        return self.counts[4] / self.counts[0] if self.counts[0] else None


def _cumulative(reached: list[int]) -> tuple[int, int, int, int, int]:
    """Leads that stopped at each stage → leads that reached each stage (or a later one)."""
    return tuple(sum(reached[index:]) for index in range(len(STAGES)))


def funnel_row(label: str, leads: Iterable[FunnelLead]) -> FunnelRow:
    """Stage counts for one group of leads."""
    reached = [0] * len(STAGES)
    for lead in leads:
        reached[lead.stage] += 1
    return FunnelRow(label, _cumulative(reached))


def funnel_by(
    leads: Iterable[FunnelLead],
    key: Callable[[FunnelLead], Hashable],
    label: Callable[[Hashable], str],
) -> list[FunnelRow]:
    """One FunnelRow per key, most leads first, then by name."""
    reached: dict[Hashable, list[int]] = defaultdict(lambda: [0] * len(STAGES))
    for lead in leads:
        reached[key(lead)][lead.stage] += 1
    rows = [FunnelRow(label(k), _cumulative(counts)) for k, counts in reached.items()]
    return sorted(rows, key=lambda row: (-row.counts[0], row.label.lower()))


def last_touch(lead: FunnelLead) -> str:
    """The source of the latest inquiry that credited the lead (the first one when alone)."""
    return lead.latest_source or lead.source


@dataclass(frozen=True)
class AttributionRow:
    """One source, credited by first touch and by last touch, side by side."""

    source: str
    first: FunnelRow
    last: FunnelRow


def attribution(leads: list[FunnelLead]) -> list[AttributionRow]:
    """First-touch and last-touch funnels for every source either model credits."""
    first = {row.label: row for row in funnel_by(leads, lambda lead: lead.source, str)}
    last = {row.label: row for row in funnel_by(leads, last_touch, str)}
    empty = (0,) * len(STAGES)
    names = sorted(
        set(first) | set(last),
        key=lambda s: (-first.get(s, FunnelRow(s, empty)).counts[0], s.lower()),
    )
    return [
        AttributionRow(s, first.get(s, FunnelRow(s, empty)), last.get(s, FunnelRow(s, empty)))
        for s in names
    ]
