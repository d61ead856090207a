"""Pipeline trigger bridge: turns blob uploads and schedules into pipeline runs.

The function folders (`blob_trigger/`, `timer_trigger/`) only adapt their trigger's input; everything
else lives here so both paths share one configuration, one payload builder, one ledger and one submitter.
"""
