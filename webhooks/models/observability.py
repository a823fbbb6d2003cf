"""What the system health page draws: Celery queue depths sampled every minute, kept for 24 hours."""

from django.db import models

__all__ = ["QueueSample"]


class QueueSample(models.Model):
    """One queue's depth (messages waiting in the broker) at one beat tick."""

    sampled_at = models.DateTimeField(db_index=True)
    queue = models.CharField(max_length=40)
    depth = models.PositiveIntegerField()

    class Meta:
        ordering = ["-sampled_at", "queue"]

    def __str__(self) -> str:
        return f"{self.queue}: {self.depth} at {self.sampled_at:%H:%M}"
