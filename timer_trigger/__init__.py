"""Every minute: due recurrence/cron slots and polling sweeps. Thin: `shared` does the work."""

import azure.functions as func

from shared.invocation import invocation
from shared.timer_path import handle_tick


def main(timer: func.TimerRequest, context: func.Context) -> None:
    with invocation(context):
        handle_tick(past_due=timer.past_due)
