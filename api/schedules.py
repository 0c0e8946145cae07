"""`/schedules/preview`: a schedule's summary and next occurrences, as `app.py schedule` prints them."""

from __future__ import annotations

from core.schedule_preview import preview_schedule
from core.schedules import ScheduleError

from . import schemas
from .pipeline import Call
from .problems import field_problem
from .registry import Operation, Outcome, Registry, Reply


async def preview(call: Call) -> Reply:
    query: schemas.SchedulePreviewQuery = call.query
    try:
        shown = preview_schedule(query.rule, query.tz, start=query.start, count=query.count)
    except ScheduleError as exc:
        raise field_problem(422, "query.rule", str(exc)) from None
    return Reply(200, schemas.SchedulePreview(
        summary=shown.schedule.summary(), timezone=shown.schedule.timezone,
        occurrences=[schemas.Occurrence(local=shown.local(m), utc=m) for m in shown.occurrences],
    ))


def register(registry: Registry) -> None:
    registry.add(Operation(
        "GET", "/schedules/preview", "previewSchedule", "Preview a schedule", "schedules", preview,
        [Outcome(200, "Its summary and next occurrences.", schemas.SchedulePreview)],
        query=schemas.SchedulePreviewQuery))
