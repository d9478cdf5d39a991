"""`sagemaker-harness monitor run [SCHEDULE]`: a Model Monitor execution now, instead of on the hour.

It asks the running local AWS endpoint (`up`'s, or the one of the `run` it is called in) for one execution of
each schedule over a window of captured records, then prints each execution's status and violations.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.cli_endpoint import running_endpoint
from harness.errors import UserError

_TARGET = "Harness.RunMonitoringSchedule"  # the harness's own call: no AWS service has it


def cmd_monitor_run(args: argparse.Namespace, _: Any) -> int:
    import requests

    from harness.emulator.storage import boto_session

    url = running_endpoint(args.endpoint, "run the monitoring schedule on")
    session = boto_session()  # nothing of the host's AWS set-up
    sagemaker = session.client("sagemaker", endpoint_url=url)
    names = [args.schedule] if args.schedule else _schedules(sagemaker, url)
    if not names:
        raise UserError("the local endpoint has no monitoring schedule",
                        fix="create one (DefaultModelMonitor.create_monitoring_schedule) first")  # fmt: skip
    failed = violated = False
    for name in names:
        request = {"MonitoringScheduleName": name, "DataAnalysisStartTime": args.start, "DataAnalysisEndTime": args.end}
        headers = {"X-Amz-Target": _TARGET, "Content-Type": "application/x-amz-json-1.1"}
        try:
            answer = requests.post(url, data=json.dumps({k: v for k, v in request.items() if v}), headers=headers,
                                   timeout=3600)  # fmt: skip
        except requests.ConnectionError:
            raise UserError(f"nothing answers at {url}", fix="is the run or `up` server still running?") from None
        body = answer.json()
        if answer.status_code != 200:
            raise UserError(f"monitoring schedule {name}: {body.get('message') or body}",
                            fix="list the schedules with `aws sagemaker list-monitoring-schedules`")  # fmt: skip
        failed |= body["MonitoringExecutionStatus"] == "Failed"
        violated |= bool(body.get("ViolationCount"))
        print(_line(body))
        for violation in body.get("Violations") or []:
            subject = violation.get("feature_name") or violation.get("metric_name") or ""
            print(f"  {violation.get('constraint_check_type', '?')} {subject}: {violation.get('description', '')}")
        if body.get("ReportUri"):
            print(f"  reports: {body['ReportUri']}/")
    return 1 if failed or (violated and args.fail_on_violation) else 0


def _schedules(sagemaker: Any, url: str) -> list[str]:
    from botocore.exceptions import EndpointConnectionError

    try:
        found = sagemaker.list_monitoring_schedules(MaxResults=100)["MonitoringScheduleSummaries"]
    except EndpointConnectionError:
        raise UserError(f"nothing answers at {url}", fix="is the run or `up` server still running?") from None
    return [str(s["MonitoringScheduleName"]) for s in found]


def _line(execution: dict[str, Any]) -> str:
    status = execution["MonitoringExecutionStatus"]
    count = execution.get("ViolationCount")
    detail = f", {count} violation(s)" if count else ""
    reason = f": {execution['FailureReason']}" if execution.get("FailureReason") else ""
    return f"monitoring schedule {execution['MonitoringScheduleName']}: {status}{detail}{reason}"


def add_commands(commands: Any) -> None:
    monitor = commands.add_parser("monitor", help="Model Monitor: run a monitoring schedule's execution now")
    actions = monitor.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="one execution of a schedule (default: every schedule) over captured data")
    run.add_argument("schedule", nargs="?", default="", help="the schedule's name (default: every schedule)")
    run.add_argument("--start", default=None, help="the window's start: ISO 8601, or an offset written "
                     "--start=-PT2H (default: an hour before its end)")  # fmt: skip
    run.add_argument("--end", default=None, help="the window's end: ISO 8601, or an offset written --end=-PT1H "
                     "(default: now)")  # fmt: skip
    run.add_argument("--fail-on-violation", action="store_true", help="exit 1 when an execution finds violations")
    run.add_argument("--endpoint", default="", help="the endpoint's URL (default: AWS_ENDPOINT_URL, or `up`'s)")
    run.set_defaults(handler=cmd_monitor_run, anywhere=True)
