"""Sending one message over SMTP (aiosmtplib), as the settings say: host, port, STARTTLS, login."""

from email.message import EmailMessage

import aiosmtplib

from shared.settings import Settings


async def send(settings: Settings, message: EmailMessage) -> None:
    await aiosmtplib.send(
        message, hostname=settings.smtp_host or "127.0.0.1", port=settings.smtp_port,
        start_tls=settings.smtp_starttls, username=settings.smtp_username, password=settings.smtp_password,
        timeout=30,
    )
