import factory

from integrations.models import Integration, IntegrationTemplate, SubAccount


class SubAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubAccount
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class IntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Integration

    subaccount = factory.SubFactory(SubAccountFactory)
    template = factory.LazyFunction(lambda: IntegrationTemplate.objects.get(key="hubspot"))
    name = factory.Sequence(lambda n: f"Integration {n}")
    config = factory.LazyFunction(dict)
