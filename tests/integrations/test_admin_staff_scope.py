"""Every admin page, audited for sub-account staff: a staff user who manages sub-account A (holding
every model permission outside auth) sees none of B's rows, gets a 404 for B's pages, and is offered
only A's sub-accounts and integrations in forms; platform pages (the catalog's templates, OAuth apps,
users, schedules, task results) refuse them whatever their permissions; operators see everything."""

import datetime
import decimal
import itertools
import uuid

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import models
from django.forms import ModelChoiceField
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from integrations.admin_scope import OperatorOnlyAdmin, choices_for
from integrations.models import ApiKey, Integration, IntegrationTemplate, Membership, SubAccount
from sync.models import Conflict, Contact, SyncRun
from tests.factories import IntegrationFactory, SubAccountFactory

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
_serial = itertools.count(1)


def is_tenant(model) -> bool:
    """Tenant data: the sub-accounts and integrations themselves, and every row with a sub-account."""
    names = {f.name for f in model._meta.get_fields()}
    return model in (SubAccount, Integration) or "subaccount" in names


# Fields whose value must name something real (an entity the admin links to).
FIELD_VALUES = {"record_type": "contact", "entity": "contact"}


def value_for(field: models.Field, sub: SubAccount):
    """A valid value for a required field of a row of ``sub`` (related rows made in ``sub`` too)."""
    n = next(_serial)
    if field.name in FIELD_VALUES:
        return FIELD_VALUES[field.name]
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.ForeignKey | models.OneToOneField):
        return row_in(field.related_model, sub)
    if isinstance(field, models.EmailField):
        return f"r{n}@example.com"
    if isinstance(field, models.URLField):
        return f"https://example.com/{n}"
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.SlugField):
        return f"s{n}"
    if isinstance(field, models.CharField | models.TextField):
        return f"v{n}"[: field.max_length or 50]
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DecimalField):
        return decimal.Decimal(1)
    if isinstance(field, models.IntegerField | models.FloatField):
        return n
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return datetime.date.today() - datetime.timedelta(days=n)
    if isinstance(field, models.JSONField):
        return {}
    raise TypeError(f"no test value for {field!r}: give its field type one here")


def row_in(model, sub: SubAccount):
    """A row of ``model`` belonging to ``sub``: every required field filled in generically."""
    if model is SubAccount:
        return sub
    if model is Integration:
        return IntegrationFactory(subaccount=sub, name=f"{sub.slug} integration {next(_serial)}")
    if model is ApiKey:
        return ApiKey.objects.create_key(name=f"{sub.slug} key {next(_serial)}", subaccount=sub)[0]
    if model is IntegrationTemplate:
        return IntegrationTemplate.objects.get(key="hubspot")
    if model is get_user_model():
        return get_user_model().objects.create_user(f"u{next(_serial)}")
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name == "subaccount":
            continue
        if field.has_default() or field.null or getattr(field, "auto_now", False):
            continue
        if getattr(field, "auto_now_add", False):
            continue
        if field.blank and not isinstance(field, models.ForeignKey):
            continue
        values[field.name] = value_for(field, sub)
    if "subaccount" in {f.name for f in model._meta.concrete_fields}:
        values["subaccount"] = sub
    return model._default_manager.create(**values)


@pytest.fixture
def acme(catalog):
    return SubAccountFactory(slug="acme", name="Acme")


@pytest.fixture
def globex(catalog):
    return SubAccountFactory(slug="globex", name="Globex")


@pytest.fixture
def staff(acme):
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    user.user_permissions.set(Permission.objects.exclude(content_type__app_label="auth"))
    Membership.objects.create(user=user, subaccount=acme)
    return get_user_model().objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789")


def as_client(client, user):
    client.force_login(user)
    return client


def urls(model, obj=None) -> tuple[str, str]:
    info = model._meta.app_label, model._meta.model_name
    changelist = reverse("admin:{}_{}_changelist".format(*info))
    return changelist, reverse("admin:{}_{}_change".format(*info), args=[obj.pk]) if obj else ""


def test_every_registered_model_is_either_tenant_data_or_operator_only():
    for model, model_admin in REGISTRY:
        assert is_tenant(model) or isinstance(model_admin, OperatorOnlyAdmin), model._meta.label


TENANT = [(m, a) for m, a in REGISTRY if is_tenant(m)]
PLATFORM = [(m, a) for m, a in REGISTRY if not is_tenant(m)]


@pytest.mark.parametrize(("model", "model_admin"), TENANT, ids=[m._meta.label for m, _ in TENANT])
def test_staff_see_only_their_sub_accounts_rows_and_others_are_404(
    model, model_admin, client, staff, operator, acme, globex
):
    mine, theirs = row_in(model, acme), row_in(model, globex)
    changelist, their_page = urls(model, theirs)
    _, my_page = urls(model, mine)

    as_client(client, staff)
    listing = client.get(changelist)
    assert listing.status_code == 200, model._meta.label
    shown = set(listing.context["cl"].queryset.values_list("pk", flat=True))
    assert mine.pk in shown and theirs.pk not in shown
    assert client.get(their_page).status_code == 404
    assert client.get(my_page).status_code == 200
    html = listing.content.decode()
    assert "Globex" not in html  # not in rows, filters or selects

    as_client(client, operator)
    everything = set(client.get(changelist).context["cl"].queryset.values_list("pk", flat=True))
    assert {mine.pk, theirs.pk} <= everything
    assert client.get(their_page).status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), PLATFORM, ids=[m._meta.label for m, _ in PLATFORM])
def test_platform_pages_refuse_staff_whatever_their_permissions(model, model_admin, client, staff, operator):
    request = RequestFactory().get("/")
    request.user = staff
    assert not model_admin.has_module_permission(request)
    assert not model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    changelist, _ = urls(model)
    assert as_client(client, staff).get(changelist).status_code == 403
    assert as_client(client, operator).get(changelist).status_code == 200


def test_the_app_index_lists_no_platform_page_for_staff(client, staff):
    html = as_client(client, staff).get(reverse("admin:index")).content.decode()
    for name in ("Integration templates", "OAuth apps", "Periodic tasks", "Task results", "Users"):
        assert name not in html
    assert "Integrations" in html


def test_template_admin_refuses_staff_but_the_catalog_serves_them(client, staff):
    as_client(client, staff)
    hubspot = IntegrationTemplate.objects.get(key="hubspot")
    assert client.get(reverse("admin:integrations_integrationtemplate_changelist")).status_code == 403
    page = reverse("admin:integrations_integrationtemplate_change", args=[hubspot.pk])
    assert client.get(page).status_code == 403
    assert client.get(reverse("admin:integrations_catalog")).status_code == 200
    assert client.get(reverse("admin:integrations_catalog_detail", args=["hubspot"])).status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), TENANT, ids=[m._meta.label for m, _ in TENANT])
def test_form_selects_offer_only_the_staff_users_sub_accounts(model, model_admin, staff, acme, globex):
    mine, theirs = row_in(model, acme), row_in(model, globex)  # noqa: F841 (rows to be offered or not)
    request = RequestFactory().get("/")
    request.user = staff
    form = model_admin.get_form(request, obj=mine)()
    for name, field in form.fields.items():
        if not isinstance(field, ModelChoiceField):
            continue
        allowed = choices_for(staff, field.queryset.model)
        if allowed is None:
            continue
        offered = set(field.queryset.values_list("pk", flat=True))
        assert offered <= set(allowed.values_list("pk", flat=True)), (model._meta.label, name)
        if field.queryset.model is SubAccount:
            assert globex.pk not in offered and acme.pk in offered


def test_staff_cannot_save_an_api_key_into_another_sub_account(client, staff, acme, globex):
    as_client(client, staff)
    add = reverse("admin:integrations_apikey_add")
    form = client.get(add).context["adminform"].form
    assert list(form.fields["subaccount"].queryset) == [acme]
    refused = client.post(add, {"name": "sneaky", "subaccount": globex.pk})
    assert refused.status_code == 200 and "subaccount" in refused.context["adminform"].form.errors
    assert not ApiKey.objects.filter(name="sneaky").exists()
    saved = client.post(add, {"name": "mine", "subaccount": acme.pk})
    assert saved.status_code == 302
    assert ApiKey.objects.get(name="mine").subaccount == acme


def test_staff_edit_their_sub_account_but_not_its_slug_members_or_others(client, staff, acme, globex):
    as_client(client, staff)
    assert client.get(reverse("admin:integrations_subaccount_add")).status_code == 403
    page = client.get(reverse("admin:integrations_subaccount_change", args=[acme.pk]))
    assert "slug" not in page.context["adminform"].form.fields
    assert not page.context["inline_admin_formsets"]  # memberships: operators only
    assert client.get(reverse("admin:integrations_subaccount_change", args=[globex.pk])).status_code == 404


def test_other_tenants_integrations_runs_conflicts_by_url_are_404(client, staff, acme, globex):
    theirs = IntegrationFactory(subaccount=globex, name="Globex HubSpot")
    run = SyncRun.objects.create(subaccount=globex, integration=theirs, kind="delta")
    conflict = Conflict.objects.create(
        subaccount=globex, integration=theirs, entity="contact", local_id=1, field="email"
    )
    contact = Contact.objects.create(subaccount=globex, email="g@example.com")
    as_client(client, staff)
    for url in (
        reverse("admin:integrations_integration_change", args=[theirs.pk]),
        reverse("admin:integrations_integration_history", args=[theirs.pk]),
        reverse("admin:integrations_integration_delete", args=[theirs.pk]),
        reverse("admin:sync_syncrun_change", args=[run.pk]),
        reverse("admin:sync_syncrun_progress", args=[run.pk]),
        reverse("admin:sync_conflict_change", args=[conflict.pk]),
        reverse("admin:sync_conflict_resolve", args=[conflict.pk]),
        reverse("admin:sync_contact_change", args=[contact.pk]),
        reverse("admin:integrations_catalog") + f"?subaccount={globex.pk}",
    ):
        assert client.get(url).status_code == 404, url
