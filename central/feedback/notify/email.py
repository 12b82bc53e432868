"""E-mail delivery over SMTP (smtplib): subject and body from the event's Jinja2
templates (``config/default/notifications.toml`` names them).

The Message-ID is derived from the notification id, so a message repeated after a crash
between sending and recording it carries the same id and can be recognised.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate

import jinja2

from central.feedback.notify.channel import SENT, Outcome
from central.feedback.settings import NotificationSettings, SmtpSettings
from central.feedback.templating import environment
from central.store.feedback_sql import DeliveryRow, NotificationRow


def _one_line(text: str) -> str:
    # Header values never carry line breaks (no header injection from order data).
    return " ".join(text.split())


def render(
    notification: NotificationRow, recipient: str, settings: NotificationSettings
) -> EmailMessage:
    """The message for one notification to ``recipient``."""
    template = settings.template_for(notification.event)
    env = environment()
    values = {**notification.payload, "event": notification.event}
    message = EmailMessage()
    message["From"] = settings.smtp.sender if settings.smtp else SmtpSettings.sender
    message["To"] = recipient
    message["Subject"] = _one_line(env.from_string(template.subject).render(values))
    message["Message-ID"] = f"<{notification.id}@rushline>"
    message["Date"] = formatdate(usegmt=True)
    message["X-Rushline-Event"] = notification.event
    message.set_content(env.get_template(template.template).render(values))
    return message


class EmailChannel:
    """Sends notifications to customers' addresses over SMTP, one connection per send."""

    def __init__(self, settings: NotificationSettings) -> None:
        if settings.smtp is None:
            raise ValueError("e-mail channel without [smtp] settings")
        self._settings = settings
        self._smtp: SmtpSettings = settings.smtp

    def send(self, delivery: DeliveryRow, notification: NotificationRow) -> Outcome:
        """One SMTP transaction; 4xx replies and network errors retry, 5xx do not."""
        try:
            message = render(notification, delivery.target, self._settings)
        except (jinja2.TemplateError, ValueError) as exc:
            return Outcome(False, False, f"template: {exc}")
        smtp = self._smtp
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
                if smtp.starttls:
                    client.starttls()
                if smtp.username:
                    client.login(smtp.username, smtp.password)
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            transient = all(400 <= code < 500 for code in codes)
            return Outcome(False, transient, f"recipient refused: {codes}")
        except smtplib.SMTPResponseException as exc:
            return Outcome(False, 400 <= exc.smtp_code < 500, f"SMTP {exc.smtp_code}")
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            return Outcome(False, True, f"{type(exc).__name__}: {exc}")
        return SENT

    def close(self) -> None:
        """Nothing held between sends."""
