"""Enrichment, scoring and automation over the API: thin adapters over ``enrichment_services`` and
``enrichment_selectors``. Everything is scoped to ``request.subaccount``: another tenant's ids are
404s in paths and 400s (unknown) in bodies and filters, as in the rest of the API."""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.api.authentication import actor_for
from integrations.api.common import ApiError, error_response, request_subaccount
from integrations.models import AUTOMATION_SETTINGS, Integration
from sync import selectors
from sync.api.enrichment_selectors import (
    enrichment_log_list,
    priority_queue_list,
    score_history_list,
)
from sync.api.enrichment_serializers import (
    WEIGHTS,
    AutomationDefaultsSerializer,
    AutomationSerializer,
    NextActionRuleSerializer,
    OwnerRuleSerializer,
    PriorityQueueQuerySerializer,
    PriorityQueueSerializer,
    ScoreHistorySerializer,
    ScoringProfileSerializer,
    SyncInputSerializer,
    SyncLogPageSerializer,
    SyncLogQuerySerializer,
    SyncLogSerializer,
    SyncResultSerializer,
    priority_item,
)
from sync.api.enrichment_services import (
    automation_update,
    enrichment_sync,
    scoring_profile_get,
    seed_fields,
)
from sync.api.views import CONFLICT, IDEMPOTENCY_HEADER, object_body, respond_idempotently, service_errors
from sync.models import NextActionRule, OwnerRule


def _refuse_unknown(given: dict[str, Any], known: list[str], *, prefix: str = "") -> dict[str, list[str]]:
    return {f"{prefix}{name}": ["Unknown field."] for name in sorted(set(given) - set(known))}


def _invalid(details: dict[str, Any]) -> ApiError:
    return ApiError(status_code=400, code="invalid", message="The request is not valid.", details=details)


# Checks of the state a change would leave (with the stored values it does not name): a 409, since
# the same body can be fine against another stored state.
WEIGHTS_ALL_ZERO = error_response("The profile would end with every weight at 0 (weights_all_zero)")
SCORE_RANGE = error_response("The rule would end with min_score above max_score (score_range)")


def _your_integration(request: Request, pk: int | None, *, field: str) -> Integration | None:
    """The caller's integration ``pk`` (None when not given); anyone else's is refused as unknown."""
    if pk is None:
        return None
    integration = Integration.objects.filter(subaccount=request.subaccount, pk=pk).first()
    if integration is None:
        raise _invalid({field: [f"No integration {pk} in this sub-account."]})
    return integration


class AutomationView(APIView):
    """The sub-account's enrichment and automation defaults (each integration may override them) and
    its scoring profile."""

    def _body(self, request: Request) -> dict[str, Any]:
        profile = scoring_profile_get(subaccount=request.subaccount)
        return {
            **AutomationDefaultsSerializer(request.subaccount).data,
            "scoring_profile": ScoringProfileSerializer(profile).data,
        }

    @extend_schema(responses={200: AutomationSerializer})
    def get(self, request: Request) -> Response:
        return Response(self._body(request))

    @extend_schema(request=AutomationSerializer, responses={200: AutomationSerializer, 409: WEIGHTS_ALL_ZERO})
    def patch(self, request: Request) -> Response:
        body = object_body(request)
        given_profile = body.get("scoring_profile", {})
        if not isinstance(given_profile, dict):
            raise _invalid({"scoring_profile": ["Must be a JSON object."]})
        defaults = {name: value for name, value in body.items() if name != "scoring_profile"}
        errors = _refuse_unknown(defaults, list(AUTOMATION_SETTINGS))
        errors |= _refuse_unknown(
            given_profile, list(ScoringProfileSerializer.Meta.fields), prefix="scoring_profile."
        )
        errors.pop("scoring_profile.updated_at", None)  # read-only: ignored like DRF does
        checked_defaults = AutomationDefaultsSerializer(request.subaccount, data=defaults, partial=True)
        if not checked_defaults.is_valid():
            errors |= {name: [str(e) for e in reasons] for name, reasons in checked_defaults.errors.items()}
        profile = scoring_profile_get(subaccount=request.subaccount)
        checked_profile = ScoringProfileSerializer(profile, data=given_profile, partial=True)
        if not checked_profile.is_valid():
            errors["scoring_profile"] = {
                name: [str(e) for e in reasons] for name, reasons in checked_profile.errors.items()
            }
        if errors:
            raise _invalid(errors)
        if not any(checked_profile.weights_after().values()):
            raise ApiError(
                status_code=409,
                code="weights_all_zero",
                message="At least one weight must be above 0.",
                details={name: ["At least one weight must be above 0."] for name in WEIGHTS},
            )
        automation_update(
            subaccount=request.subaccount,
            defaults=checked_defaults.validated_data,
            profile=checked_profile.validated_data,
            actor=actor_for(request),
        )
        return Response(self._body(request))


class ScopedRuleViewSet(viewsets.ModelViewSet):
    """A rule table of the caller's sub-account, in ``position`` order (small: not paginated)."""

    model: type[NextActionRule] | type[OwnerRule]
    pagination_class = None
    lookup_value_regex = "[0-9]{1,18}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet:
        return self.model.objects.filter(subaccount=request_subaccount(self.request)).order_by(
            "position", "id"
        )

    def _checked(self, request: Request, instance=None) -> serializers.Serializer:
        body = object_body(request)
        unknown = _refuse_unknown(body, list(self.serializer_class.Meta.fields))
        for name in self.serializer_class.Meta.read_only_fields:
            unknown.pop(name, None)
        checked = self.get_serializer(instance, data=body, partial=instance is not None)
        valid = checked.is_valid()
        if unknown or not valid:
            raise _invalid({**unknown, **({} if valid else dict(checked.errors))})
        self.check_state(checked)
        return checked

    def check_state(self, checked: serializers.Serializer) -> None:
        """Refuse (409) a change that would leave the rule inconsistent."""

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        checked = self._checked(request)
        rule = self.model.objects.create(subaccount=request.subaccount, **checked.validated_data)
        return Response(self.get_serializer(rule).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        checked = self._checked(request, rule)
        for name, value in checked.validated_data.items():
            setattr(rule, name, value)
        rule.save()
        return Response(self.get_serializer(rule).data)


@extend_schema_view(
    create=extend_schema(responses={201: NextActionRuleSerializer, 409: SCORE_RANGE}),
    partial_update=extend_schema(responses={200: NextActionRuleSerializer, 409: SCORE_RANGE}),
)
class NextActionRuleViewSet(ScopedRuleViewSet):
    """Next actions by score band (and signal): every active matching rule suggests its action;
    the first with a stage sets the suggested deal stage."""

    model = NextActionRule
    serializer_class = NextActionRuleSerializer

    def check_state(self, checked: serializers.Serializer) -> None:
        low, high = checked.score_range_after()
        if low > high:
            raise ApiError(
                status_code=409,
                code="score_range",
                message="min_score must not be above max_score.",
                details={"min_score": ["Must not be above max_score."]},
            )


class OwnerRuleViewSet(ScopedRuleViewSet):
    """Auto-assign: the first active rule matching territory and industry, round-robin in its team."""

    model = OwnerRule
    serializer_class = OwnerRuleSerializer


class EnrichmentSyncView(APIView):
    """The seed's sync API: ``POST`` one contact or company, ``GET`` the sync logs."""

    @extend_schema(
        request=SyncInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: SyncResultSerializer, 409: CONFLICT},
        description="Upsert the record (matched by external_id, then e-mail or phone for contacts, "
        "domain for companies) and queue it to be enriched, scored and acted on with the given "
        "priority (a higher one overtakes any backlog).",
    )
    def post(self, request: Request) -> Response:
        params = SyncInputSerializer(data=object_body(request))
        params.is_valid(raise_exception=True)
        data = params.validated_data
        entity = data["entity_type"]
        integration = _your_integration(request, data.get("integration_id"), field="integration_id")
        options = data["options"]

        def perform() -> tuple[int, Any]:
            with service_errors():
                queued = enrichment_sync(
                    subaccount=request.subaccount,
                    entity=entity,
                    fields=seed_fields(entity, data[entity], region=request.subaccount.default_region),
                    integration=integration,
                    priority=options["priority"],
                    skip_enrichment=options["skipEnrichment"],
                    origin=actor_for(request),
                )
            body = {
                "success": True,
                "entityType": entity,
                "id": queued.record_id,
                "operation": queued.operation,
                "job_id": queued.job_id,
            }
            return status.HTTP_202_ACCEPTED, body

        return respond_idempotently(request, perform)

    @extend_schema(parameters=[SyncLogQuerySerializer], responses={200: SyncLogPageSerializer})
    def get(self, request: Request) -> Response:
        params = SyncLogQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        logs = enrichment_log_list(subaccount=request.subaccount)
        integration = _your_integration(request, query.get("integration_id"), field="integration_id")
        if integration is not None:
            logs = logs.filter(integration=integration)
        if "status" in query:
            logs = logs.filter(status=query["status"])
        if "entity_type" in query:
            logs = logs.filter(entity=query["entity_type"])
        if "before" in query:
            logs = logs.filter(pk__lt=query["before"])
        page = list(logs.order_by("-id")[: query["limit"] + 1])
        more = len(page) > query["limit"]
        page = page[: query["limit"]]
        return Response(
            {
                "logs": SyncLogSerializer(page, many=True).data,
                "next_before": page[-1].pk if more else None,
            }
        )


class PriorityQueueView(APIView):
    """The records to work next: scored and live, the highest score first, then the most recently
    scored."""

    @extend_schema(parameters=[PriorityQueueQuerySerializer], responses={200: PriorityQueueSerializer})
    def get(self, request: Request) -> Response:
        params = PriorityQueueQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        entity = query["entity"]
        records = priority_queue_list(
            subaccount=request.subaccount,
            entity=entity,
            owner_id=query.get("owner_id"),
            min_score=query.get("min_score"),
            limit=query["limit"],
        )
        return Response(
            PriorityQueueSerializer({"results": [priority_item(entity, record) for record in records]}).data
        )


class ScoreHistoryView(generics.ListAPIView):
    """A record's scores, newest first (cursor-paginated like every list)."""

    entity: str
    serializer_class = ScoreHistorySerializer
    filterset_class = None

    def get_queryset(self) -> QuerySet:
        subaccount = request_subaccount(self.request)
        if subaccount is None:  # schema generation
            return ScoreHistorySerializer.Meta.model.objects.none()
        records = selectors.record_list(subaccount=subaccount, entity=self.entity)
        record = get_object_or_404(records, pk=self.kwargs["pk"])
        return score_history_list(entity=self.entity, record=record)


class ContactScoreHistoryView(ScoreHistoryView):
    entity = "contact"


class CompanyScoreHistoryView(ScoreHistoryView):
    entity = "company"
