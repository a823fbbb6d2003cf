"""The operations dashboard (the admin's home): every integration a user may see at a glance, its
14-day charts and the recent activity. Reads integrations, sync and webhooks, hence this layer.

Pure queries: ``filters`` narrows the integrations, ``rows`` builds one row per integration with a
fixed number of grouped queries, ``charts`` the per-day series, ``activity`` the latest runs, errors
and audit entries. The admin index (config/admin_site.py, webhooks/dashboard_views.py) renders them.
"""
