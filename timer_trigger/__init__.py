"""Every minute: due recurrence/cron slots and polling sweeps. Thin: `shared` does the work."""

import azure.functions as func

from shared.timer_path import handle_tick


def main(timer: func.TimerRequest) -> None:
    handle_tick(past_due=timer.past_due)
