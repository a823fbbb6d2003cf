"""Canonical records in their stored (already normalised) form, for arranging state in tests."""

import factory

from sync.models import Activity, Company, Contact, Conversation, Deal
from tests.factories import SubAccountFactory


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    subaccount = factory.SubFactory(SubAccountFactory)
    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.example.com")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    subaccount = factory.SubFactory(SubAccountFactory)
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Person"
    email = factory.Sequence(lambda n: f"person{n}@example.com")


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    subaccount = factory.SubFactory(SubAccountFactory)
    name = factory.Sequence(lambda n: f"Deal {n}")
    currency = "USD"


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    subaccount = factory.SubFactory(SubAccountFactory)
    kind = Activity.Kind.NOTE
    subject = factory.Sequence(lambda n: f"Note {n}")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    subaccount = factory.SubFactory(SubAccountFactory)
    subject = factory.Sequence(lambda n: f"Conversation {n}")
    status = Conversation.Status.OPEN
    channel = "whatsapp"
