"""Provider webhooks coming in: the receiver (views), storing (services, insert), throttling,
processing on workers (processing, tasks), the admin pages."""
