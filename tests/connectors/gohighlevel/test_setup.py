"""The wizard's GoHighLevel choices (SetupChoices) against the emulator's pipelines, and deals
written and read through the chosen pipeline and stage map."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import ConfigError
from connectors.capabilities import SetupChoices
from connectors.gohighlevel.emulator.store import (
    ONBOARDING_PIPELINE_ID,
    ONBOARDING_STAGES,
    PIPELINE_ID,
    STAGES,
)
from connectors.gohighlevel.setup import CANONICAL_STAGES
from integrations.catalog_loader import read_template_file

CATALOG = Path(__file__).resolve().parents[3] / "integrations" / "catalog" / "gohighlevel.json"


def test_questions_offer_the_pipelines_and_their_stages(connector):
    assert isinstance(connector, SetupChoices)
    questions = {q.key: q for q in connector.setup_questions()}
    assert list(questions) == ["pipelineId", *(f"stage.{c}" for c in CANONICAL_STAGES)]
    pipeline = questions["pipelineId"]
    assert pipeline.required and pipeline.initial == PIPELINE_ID
    assert pipeline.choices == ((PIPELINE_ID, "Sales pipeline"), (ONBOARDING_PIPELINE_ID, "Onboarding"))
    won = questions["stage.won"]
    assert won.initial == STAGES[1][0]  # the first pipeline's stage named "Won"
    assert questions["stage.lead"].initial == STAGES[0][0]  # "New lead"
    assert ("", "— not mapped —") in won.choices
    assert (ONBOARDING_STAGES[3][0], "Onboarding: Lost") in won.choices


def test_answers_become_the_pipeline_and_stage_map(connector):
    answers = {
        "pipelineId": ONBOARDING_PIPELINE_ID,
        "stage.contacted": ONBOARDING_STAGES[0][0],
        "stage.qualified": ONBOARDING_STAGES[1][0],
        "stage.won": ONBOARDING_STAGES[2][0],
        "stage.lost": "",
    }
    applied = connector.setup_apply(answers)
    assert applied.config == {
        "pipelineId": ONBOARDING_PIPELINE_ID,
        "stageMap": {
            "contacted": ONBOARDING_STAGES[0][0],
            "qualified": ONBOARDING_STAGES[1][0],
            "won": ONBOARDING_STAGES[2][0],
        },
    }
    with pytest.raises(ConfigError) as wrong:
        connector.setup_apply({**answers, "stage.lost": STAGES[0][0]})  # the other pipeline's
    assert wrong.value.field == "stage.lost"
    with pytest.raises(ConfigError):
        connector.setup_apply({"pipelineId": "nope"})


def test_deals_are_written_and_read_through_the_stage_map(key_config, make_connector, api, base):
    plain = make_connector(key_config)
    config = {
        **key_config,
        **plain.setup_apply(
            {
                "pipelineId": ONBOARDING_PIPELINE_ID,
                "stage.qualified": ONBOARDING_STAGES[1][0],
                "stage.won": ONBOARDING_STAGES[2][0],
            }
        ).config,
    }
    connector = make_connector(config)
    [made] = connector.create("deal", [{"name": "Mapped", "pipelineStageId": "qualified"}])
    assert made.ok, made.error
    raw = api.get(f"{base}/opportunities/{made.remote_id}").json()["opportunity"]
    assert (raw["pipelineId"], raw["pipelineStageId"], raw["status"]) == (
        ONBOARDING_PIPELINE_ID,
        ONBOARDING_STAGES[1][0],
        "open",
    )
    [read] = connector.get("deal", [made.remote_id])
    assert read.fields["pipelineStageId"] == "qualified"
    [won] = connector.update("deal", [(made.remote_id, {"pipelineStageId": "won"})])
    assert won.ok, won.error
    raw = api.get(f"{base}/opportunities/{made.remote_id}").json()["opportunity"]
    assert (raw["pipelineStageId"], raw["status"]) == (ONBOARDING_STAGES[2][0], "won")
    pulled = [r for page in connector.pull("deal", cursor=None) for r in page.records]
    assert [r.fields["pipelineStageId"] for r in pulled] == ["won"]
    [unmapped] = connector.create("deal", [{"name": "Raw", "pipelineStageId": ONBOARDING_STAGES[0][0]}])
    assert unmapped.ok  # a GoHighLevel stage id passes through as it is
    assert plain.get("deal", [made.remote_id])[0].fields["pipelineStageId"] == ONBOARDING_STAGES[2][0]


def test_the_catalog_config_schema_holds_every_canonical_stage():
    schema = read_template_file(CATALOG)["config_schema"]["properties"]
    assert set(schema["stageMap"]["properties"]) == set(CANONICAL_STAGES) and "pipelineId" in schema
