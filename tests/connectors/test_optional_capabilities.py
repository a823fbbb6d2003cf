"""What a connector does not do it refuses as a provider would: a PermanentError with the code
``unsupported``, which callers report like any refusal (never a bare NotImplementedError)."""

import pytest

from connectors.base import EnrichmentRecord, FieldSpec, PermanentError
from connectors.registry import CONNECTORS, connector_class


@pytest.mark.parametrize("key", sorted(CONNECTORS))
def test_capabilities_a_connector_lacks_are_refused(key):
    cls = connector_class(key)
    bare = cls.__new__(cls)  # the refusals need no config
    if not cls.creates_fields:
        with pytest.raises(PermanentError) as refused:
            bare.create_fields("contact", [FieldSpec("platform_score", "Platform score", "number")])
        assert refused.value.code == "unsupported"
    if not cls.enriches:
        with pytest.raises(PermanentError) as refused:
            bare.enrich([EnrichmentRecord(id="1", type="contact", fields={})])
        assert refused.value.code == "unsupported" and cls.display_name in str(refused.value)
