"""The mail outbox's sender as a process of its own: `python -m shop.mail_sender`.

The runner starts one next to gunicorn's web workers (and starts it again if it dies), at a lower
CPU priority (`MAIL_SENDER_NICE`, 10, and on Linux the idle scheduling class, `MAIL_SENDER_IDLE`):
when orders arrive faster than the machine can serve them, checkout gets the CPU and their mails
follow once the burst is over, instead of every web worker spending part of each second on mail
while customers wait. Settings come from the environment
the runner passes on (the same `load_settings` as the workers). Several of these processes, on
one machine or many, never send a row twice: rows are claimed with SKIP LOCKED (docs/mail.md).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from shop.config import load_settings

log = logging.getLogger("shop.mail_sender")


def lower_priority(nice: int, idle: bool) -> str:
    """Yield the CPU to the web workers: a higher nice value (POSIX), and where the kernel has it
    (Linux), the idle scheduling class, which runs this process only on a CPU nobody else wants
    (a nice value still takes a share of a busy CPU: a mail costs about 6 ms of CPU, a third of a
    checkout). Called before any thread starts: on Linux each thread has its own policy, and new
    threads inherit it. Returns what was done, for the log."""
    done = []
    if nice > 0 and hasattr(os, "nice"):
        os.nice(nice)
        done.append(f"nice {nice}")
    if idle and nice > 0 and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            done.append("idle scheduling class")
        except OSError as error:  # a container or kernel that refuses it: the nice value stays
            log.warning("the mail sender keeps the normal scheduling class: %s", error)
    return ", ".join(done) or "the web workers' priority"


def _stop_when_orphaned(stopping: threading.Event, stop_sender) -> None:
    """A runner killed outright (SIGKILL) cannot stop us: once our parent has gone, stop the sender
    (at once if it has not started yet; for good after 10 s if a delivery hangs on a dead database)."""
    parent = os.getppid()
    while os.getppid() == parent and not stopping.is_set():
        time.sleep(1.0)
    if stopping.is_set():
        return
    log.warning("the runner (pid %d) has gone; the mail sender stops", parent)
    stop_sender()
    time.sleep(10.0)
    os._exit(0)


def main() -> int:
    settings = load_settings()
    priority = lower_priority(settings.mail_sender_nice, settings.mail_sender_idle)  # first: imports cost CPU
    stopping, sender = threading.Event(), None

    def stop_sender() -> None:
        if sender is None:
            os._exit(0)  # still starting: nothing to finish
        sender.stop()

    threading.Thread(target=_stop_when_orphaned, args=(stopping, stop_sender), name="parent-watch",
                     daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the runner, which stops us
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_sender())

    # Loaded after the priority is lowered and the signals set: the sender starts small and early.
    from shop import bootstrap
    from shop.adapters.mail import mailer_for
    from shop.runner import start_webhook_sender
    from shop.services.notifications import MailSender
    from shop.web.factory import create_app
    from shop.web.mail_compose import mail_composer
    from shop.web.requestlog import configure_logging

    configure_logging(settings.log_level, json_lines=settings.is_production)
    app = create_app(settings=settings)
    db = bootstrap.postgres(settings, 1)
    sender = MailSender(lambda: db, mailer_for(settings), mail_composer(app, db),
                        settings.mail_send_interval_seconds)
    # Webhook deliveries come from the same kind of outbox, so the same process sends them (docs/webhooks.md).
    start_webhook_sender(settings, app)
    log.info("mail sender running (pid %d, %s)", os.getpid(), priority)
    sender.run()  # here, not as a thread: returns once stopped
    stopping.set()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
