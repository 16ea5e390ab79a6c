"""Notifier: collects rejections per provider for the digest e-mails."""
