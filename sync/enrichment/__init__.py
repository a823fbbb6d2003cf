"""Enrichment, lead scoring and automation (seed 002).

A change that matters to a contact or company (``feed``) queues an ``EnrichmentJob`` (``jobs``);
a worker on the ``enrichment`` queue claims jobs by priority and runs the ``pipeline``: providers in
order (``providers``: the built-in deterministic one, then ``enrichment_http`` integrations), the
scorer (``scoring``, ``facts``, ``persist``), next actions (``actions``), then automation
(``sync.automation``: owner, tasks, deals), and asks the sub-account's CRMs to push what changed.
"""
