import factory

from integrations.models import Integration, IntegrationTemplate, SubAccount


class SubAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubAccount
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class IntegrationTemplateFactory(factory.django.DjangoModelFactory):
    """A template row without the catalog (tests that load the catalog get the real one)."""

    class Meta:
        model = IntegrationTemplate
        django_get_or_create = ("key",)

    key = "hubspot"
    display_name = factory.LazyAttribute(lambda o: o.key.title())
    category = "CRM"
    connector = factory.LazyAttribute(lambda o: o.key)
    auth_type = "oauth2"
    config_schema = factory.LazyFunction(lambda: {"type": "object", "properties": {}})


class IntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Integration

    subaccount = factory.SubFactory(SubAccountFactory)
    template = factory.SubFactory(IntegrationTemplateFactory)
    name = factory.Sequence(lambda n: f"Integration {n}")
    config = factory.LazyFunction(dict)
