"""The wizard's GoHighLevel choices (``connectors.capabilities.SetupChoices``): the pipeline new
deals go into, and which of its stages each canonical deal stage is.

The platform keeps no fixed list of deal stages (HubSpot's and Salesforce's default mappings carry
their own stage values through), so the canonical stages asked about are the ones the platform
itself writes — the enrichment rules' suggested stages ``lead``, ``contacted``, ``qualified`` — plus
``won`` and ``lost``. Answers become config: ``pipelineId`` and ``stageMap`` ({canonical: stage id}).
The connector writes a deal's canonical stage as the mapped stage id (``won``/``lost`` also set the
opportunity's status) and reads a mapped stage id back as its canonical stage; values not in the
map pass through as they are (GoHighLevel stage ids).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from connectors.base import ConfigError, RemoteRecord
from connectors.capabilities import SetupAnswers, SetupQuestion

CANONICAL_STAGES = ("lead", "contacted", "qualified", "won", "lost")
STATUS_FOR_STAGE = {"won": "won", "lost": "lost"}
PIPELINE_KEY = "pipelineId"
STAGE_PREFIX = "stage."


def stage_key(canonical: str) -> str:
    return f"{STAGE_PREFIX}{canonical}"


def _stage_choices(pipelines: list[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """Every pipeline's stages as "Pipeline: Stage" (a blank choice first: leave it unmapped)."""
    return (("", "— not mapped —"),) + tuple(
        (str(stage["id"]), f"{pipeline.get('name', '')}: {stage.get('name', '')}")
        for pipeline in pipelines
        for stage in pipeline.get("stages") or []
        if stage.get("id")
    )


def _initial_stage(canonical: str, pipeline: Mapping[str, Any] | None, current: Mapping[str, str]) -> str:
    """The stage already mapped, else the chosen pipeline's stage of that name."""
    if current.get(canonical):
        return str(current[canonical])
    for stage in (pipeline or {}).get("stages") or []:
        if str(stage.get("name", "")).strip().lower() in {canonical, f"new {canonical}"}:
            return str(stage["id"])
    return ""


def questions(pipelines: list[Mapping[str, Any]], config: Mapping[str, Any]) -> list[SetupQuestion]:
    chosen = str(config.get(PIPELINE_KEY) or (pipelines[0]["id"] if pipelines else ""))
    pipeline = next((p for p in pipelines if p.get("id") == chosen), None)
    current = config.get("stageMap") if isinstance(config.get("stageMap"), Mapping) else {}
    stage_choices = _stage_choices(pipelines)
    asked = [
        SetupQuestion(
            key=PIPELINE_KEY,
            label="Pipeline for new deals",
            choices=tuple((str(p["id"]), str(p.get("name") or p["id"])) for p in pipelines if p.get("id")),
            initial=chosen,
            help_text="Deals the platform creates go into this GoHighLevel pipeline.",
            group="Pipeline",
            required=True,
        )
    ]
    for canonical in CANONICAL_STAGES:
        asked.append(
            SetupQuestion(
                key=stage_key(canonical),
                label=f"Stage for “{canonical}” deals",
                choices=stage_choices,
                initial=_initial_stage(canonical, pipeline, current),
                help_text="A stage of the pipeline above.",
                group="Deal stages",
            )
        )
    return asked


def answers_config(pipelines: list[Mapping[str, Any]], answers: Mapping[str, str]) -> SetupAnswers:
    """``{pipelineId, stageMap}``; ConfigError (naming the answer) for a pipeline that does not exist
    or a stage that is not the chosen pipeline's."""
    chosen = str(answers.get(PIPELINE_KEY) or "")
    pipeline = next((p for p in pipelines if str(p.get("id")) == chosen), None)
    if pipeline is None:
        raise ConfigError("choose one of the location's pipelines", field=PIPELINE_KEY)
    stages = {str(stage["id"]) for stage in pipeline.get("stages") or [] if stage.get("id")}
    stage_map = {}
    for canonical in CANONICAL_STAGES:
        value = str(answers.get(stage_key(canonical)) or "")
        if not value:
            continue
        if value not in stages:
            raise ConfigError(
                f"the stage for “{canonical}” is not a stage of {pipeline.get('name', chosen)}",
                field=stage_key(canonical),
            )
        stage_map[canonical] = value
    return SetupAnswers(config={PIPELINE_KEY: chosen, "stageMap": stage_map})


def stage_to_remote(body: dict[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """An opportunity body with a canonical stage written as its mapped stage id (and status)."""
    stage_map = config.get("stageMap") if isinstance(config.get("stageMap"), Mapping) else {}
    canonical = body.get("pipelineStageId")
    if isinstance(canonical, str) and canonical in stage_map:
        body = {**body, "pipelineStageId": stage_map[canonical]}
        if config.get(PIPELINE_KEY):
            body.setdefault("pipelineId", config[PIPELINE_KEY])
        if canonical in STATUS_FOR_STAGE and "status" not in body:
            body["status"] = STATUS_FOR_STAGE[canonical]
    return body


def stage_to_canonical(record: RemoteRecord, config: Mapping[str, Any]) -> RemoteRecord:
    """A read opportunity whose stage id is mapped carries the canonical stage instead."""
    stage_map = config.get("stageMap") if isinstance(config.get("stageMap"), Mapping) else {}
    reverse = {}
    for canonical, stage in stage_map.items():
        reverse.setdefault(str(stage), canonical)
    stage = record.fields.get("pipelineStageId")
    if stage is None or str(stage) not in reverse:
        return record
    return dataclasses.replace(record, fields={**record.fields, "pipelineStageId": reverse[str(stage)]})


class GoHighLevelSetup:
    """Mixed into the connector: ``self.client`` and ``self.config`` are the connector's."""

    setup_title = "Pipeline and stages"

    def setup_questions(self) -> list[SetupQuestion]:
        return questions(self.client.pipelines(), self.config)

    def setup_apply(self, answers: Mapping[str, str]) -> SetupAnswers:
        return answers_config(self.client.pipelines(), answers)
