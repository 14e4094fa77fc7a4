"""Webhooks: subscriptions (repository, workspace, Connect modules), the in-transaction fan-out,
the delivery worker, signing, the delivery log and redelivery."""
