"""What operators watch: ``/metrics`` for Prometheus (metrics.py, views.py) and the admin's system
health page (health.py), fed by a beat task that samples the Celery queues every minute (sampling.py)."""
