"""The story of `make demo`: nine steps of the whole loop on the local cloud, each checked.

Data arrives (some of it bad), a first model is trained, served and rolled out to a fleet; a better
one is canaried and promoted; shuffled labels are rejected by the gate; drift starts a run early;
a model that fails in service is rolled back by its alarm; tampering freezes releases until an
operator acknowledges it. Any step that does not end as described raises :class:`DemoFailedError`.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conveyor.state.canary import CanaryState, get_canary
from conveyor.state.control import freeze_state
from conveyor.state.findings import list_findings
from conveyor.state.ledger import Ledger
from conveyor_tools import freezing, stack
from conveyor_tools.demo import observe
from conveyor_tools.demo.data import DemoData, bad_records, bad_rows, csv_body
from conveyor_tools.demo.errors import expect
from conveyor_tools.demo.fleet import Fleet
from conveyor_tools.demo.progress import Progress
from localcloud.cloud import LocalCloud

MIN_NEW_ROWS = 3000
# Traffic while a canary bakes, and how often the demo looks at the endpoint and its alarms.
REQUESTS_PER_SECOND = 1
LOOK_EVERY_SECONDS = 20
BAKE_MINUTES = 6
# A challenger that fails in service: a fifth of its requests answer with an error.
INJECTED_ERROR_RATE = 0.2
FAST, WALL_SPEED = 1e-4, 1.0


@dataclass
class Story:
    """The demo's stack, its data, its fleet and what each step found."""

    cloud: LocalCloud
    data: DemoData
    progress: Progress
    fleet: Fleet
    summary: dict[str, Any] = field(default_factory=dict)
    seed: int = 10

    def play(self) -> dict[str, Any]:
        steps: list[tuple[str, Callable[[], str]]] = [
            ("Data arrives: records stream through Firehose, files are uploaded, the bad ones set aside", self.ingest),
            ("Retraining starts by itself; the first model passes the gate and becomes champion", self.first_model),
            ("The champion serves on the endpoint", self.serve),
            ("The champion is compiled for each device and rolled out to the fleet", self.first_rollout),
            ("New data, a better model: canaried on the endpoint, promoted, rolled out", self.better_model),
            ("Data with shuffled labels: the gate rejects the worse model", self.shuffled_labels),
            ("Drifted data starts a run early", self.drifted_data),
            ("A model that fails in service is rolled back by its alarm, and never reaches the fleet", self.fails),
            ("The data bucket is made public: undone, releases frozen until an operator unfreezes", self.tampering),
        ]
        self.check_health()
        for number, (title, act) in enumerate(steps, start=1):
            with self.progress.step(number, title) as step:
                step.outcome = act()
        return self.summary

    def check_health(self) -> None:
        """The stack's health function, invoked through the Lambda API: its version and status."""
        response = self.cloud.client("lambda").invoke(FunctionName=self.cloud.outputs["HealthFunctionName"])
        health = json.loads(response["Payload"].read())
        expect("FunctionError" not in response and health.get("version") == self.cloud.outputs["Version"], f"{health}")
        self.summary |= {"version": health["version"], "health": health["status"]}
        self.progress.detail(f"health: stack version {health['version']}, stage {health['stage']}: {health['status']}")

    # -- steps -------------------------------------------------------------------------------------

    def ingest(self) -> str:
        schema = self.data.schema
        self.progress.detail(f"data: {self.data.describe()}")
        good = [json.dumps(row) for row in self.data.fresh(145, seed=1)]
        bad, heartbeats = bad_records(self.data), ['{"heartbeat": true}'] * 2
        self.cloud.client("firehose").put_record_batch(
            DeliveryStreamName=self.cloud.outputs["IngestStreamName"],
            Records=[{"Data": r.encode()} for r in good + bad + heartbeats],
        )
        self.cloud.deliveries.settle()
        bucket = self.cloud.outputs["DataBucketName"]
        reports = stack.keys(self.cloud, "errors/stream/reasons/")
        expect(len(reports) == 1, f"expected the stream's bad records set aside in one report, found {reports}")
        report = reports[0]
        self.progress.detail(f"145 records streamed, 2 heartbeats dropped, 3 set aside: s3://{bucket}/{report}")
        for record in stack.read_json(self.cloud, report)["records"]:
            raw = base64.b64decode(record["data"]).decode(errors="replace")[:40]
            self.progress.detail(f"  {raw!r}: {record['reason']['message']}")
        uploads = {
            "line-a.csv": csv_body(self.data.fresh(1500, seed=2), schema.columns),
            "line-b.csv": csv_body(self.data.fresh(1500, seed=3), schema.columns),
            "line-c.csv": csv_body(self.data.fresh(5, seed=4) + bad_rows(self.data), schema.columns),
        }
        for name, body in uploads.items():
            stack.upload(self.cloud, name, body)
        self.cloud.deliveries.settle()
        reports = [key for key in stack.keys(self.cloud, "quarantine/") if key.endswith(".error.json")]
        expect(len(reports) == 1, f"expected one file set aside, found {reports}")
        document = stack.read_json(self.cloud, reports[0])
        self.progress.detail(f"{document['key']} set aside in s3://{bucket}/{reports[0].removesuffix('.error.json')}")
        for error in document["errors"]:
            where = f"line {error.get('line')}, column {error.get('column')}, value {error.get('value')!r}"
            self.progress.detail(f"  {where}: {error['message']}")
        return "145 records streamed and 3,000 rows uploaded; 3 records and 1 file set aside with their reasons"

    def first_model(self) -> str:
        model = self.gated("run-000001", "Approved")
        return f"run-000001 trained on its own; model {model['version']} approved ({model['metric']} {model['value']})"

    def serve(self) -> str:
        self.cloud.run_until_idle(timeout=120, waiting=False)
        record = get_canary(self.table, 1, dynamodb=self.dynamodb)
        expect(record is not None and record.state == CanaryState.PROMOTED, f"the first canary is {record}")
        weights = observe.weights(self.cloud)
        expect(weights == {"p1": 1.0}, f"the endpoint serves {weights}")
        self.canaries.append({"package_version": 1, "variant": "p1", "outcome": "first", "timeline": []})
        rows = self.requests(5)
        body = "\n".join(",".join(str(v) for v in row) for row in rows)
        answer = self.cloud.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=self.cloud.outputs["EndpointName"], ContentType="text/csv", Body=body.encode()
        )
        predictions = [round(float(p), 3) for p in answer["Body"].read().decode().split()]
        expect(len(predictions) == len(rows), f"the endpoint answered {predictions}")
        self.progress.detail(f"endpoint {self.cloud.outputs['EndpointName']}, variant p1: predicts {predictions}")
        variant = answer["InvokedProductionVariant"]
        return f"model 1 serves all the endpoint's traffic; 5 requests answered by variant {variant}"

    def first_rollout(self) -> str:
        release = self.fleet.roll_out(1, self.requests(5))
        expect(release["outcome"] == "rolled out", f"the first rollout: {release}")
        return f"component {release['component_version']} running on {release['devices'].get('RUNNING', 0)} devices"

    def better_model(self) -> str:
        self.upload("fresh.csv", self.data.fresh(4000, seed=self.next_seed()))
        model = self.gated("run-000002", "Approved")
        canary = self.canary(2)
        expect(canary["outcome"] == "promoted", f"the better model's canary: {canary}")
        release = self.fleet.roll_out(2, self.requests(5))
        expect(release["outcome"] == "rolled out", f"the better model's rollout: {release}")
        return (
            f"model 2 ({model['value']} against the champion's {model['champion_value']} on the same rows) "
            f"promoted after a {BAKE_MINUTES}-minute bake; component {release['component_version']} on the fleet"
        )

    def shuffled_labels(self) -> str:
        self.upload("shuffled.csv", self.data.shuffled(4000, seed=self.next_seed()))
        model = self.gated("run-000003", "Rejected")
        self.cloud.run_until_idle(timeout=60, waiting=False)
        expect(self.released() == ["package-1", "package-2"], f"a rejected model was released: {self.released()}")
        return f"model 3 rejected ({model['reasons'][0]}); nothing released"

    def drifted_data(self) -> str:
        rows, feature, how = self.data.drifted(600, seed=self.next_seed())
        self.progress.detail(f"600 rows, fewer than MinNewRows ({MIN_NEW_ROWS}): {how}")
        self.upload("drifted.csv", rows)
        model = self.gated("run-000004", None)
        [run] = [r for r in observe.runs(self.cloud) if r["run_id"] == "run-000004"]
        drift = run["drift"] or {}
        expect(run["trigger"] == "drift" and feature in drift.get("features", []), f"run-000004 started as {run}")
        snapshot = stack.read_json(self.cloud, f"datasets/snapshots/{run['run_id']}.json")["drift"]
        psi = {f["name"]: round(f["psi"], 3) for f in snapshot["features"]}
        self.summary.setdefault("drift", []).append(
            {
                "run_id": run["run_id"],
                "features": drift["features"],
                "max_psi": round(drift["max_psi"], 3),
                "rows": drift["rows"],
                "threshold": snapshot["threshold"],
                "psi": psi,
                "decision": model["decision"],
            }
        )
        self.progress.detail(f"population stability index per feature: {psi}")
        return (
            f"run-000004 started early by drift in {', '.join(drift['features'])} "
            f"(PSI {drift['max_psi']:.2f} over {drift['rows']} rows); its model was {model['decision'].lower()}"
        )

    def fails(self) -> str:
        self.upload("fresh-2.csv", self.data.fresh(6000, seed=self.next_seed()))
        self.gated("run-000005", "Approved")
        canary = self.canary(5, error_rate=INJECTED_ERROR_RATE)
        expect(canary["outcome"] == "rolled_back", f"the failing model's canary: {canary}")
        release = self.fleet.roll_out(5, [])
        expect(release["outcome"] == "stopped", f"the rolled back model's edge release: {release}")
        return (
            f"model 5 rolled back {canary['alarm_to_weight_zero_seconds']} s after its alarm "
            f"({canary['alarm']}); the fleet kept component {self.fleet.running_version()}"
        )

    def tampering(self) -> str:
        findings = self.intrude()
        self.upload("while-frozen.csv", self.data.fresh(MIN_NEW_ROWS, seed=self.next_seed()))
        self.cloud.run_until_idle(timeout=60, waiting=False)
        ledger = Ledger(self.table, dynamodb=self.dynamodb)
        expect(ledger.unstarted_runs() == [] and self.latest_run() == "run-000005", "a run started while frozen")
        self.progress.detail(f"{MIN_NEW_ROWS} new rows uploaded while frozen: no run, nothing released")
        [finding] = findings
        finding |= self.unfreeze(finding["finding_id"], "demo: the public access block is back; nothing was read")
        self.summary["findings"] = findings
        self.progress.detail("the retraining schedule's next tick (RetrainSchedule) claims the rows that waited")
        schedule = self.cloud.outputs["ScheduleRetrainingFunctionName"]
        self.cloud.client("lambda").invoke(FunctionName=schedule, Payload=b'{"source": "conveyor.schedule"}')
        model = self.gated("run-000006", "Approved")
        canary = self.canary(6)
        release = self.fleet.roll_out(6, self.requests(5))
        expect(canary["outcome"] == "promoted" and release["outcome"] == "rolled out", f"{canary}, {release}")
        return (
            f"{finding['kind']} undone ({', '.join(finding['remediated'])}); after `conveyor unfreeze`, the next "
            f"run's model {model['version']} was canaried, promoted and rolled out"
        )

    def unfreeze(self, finding_id: str, reason: str) -> dict[str, Any]:
        """What `conveyor unfreeze --finding ID --reason ...` does (its own code): who lifted the freeze, and why."""
        self.progress.detail(f"$ conveyor unfreeze --finding {finding_id} --reason {reason!r}")
        for line in json.dumps(freezing.acknowledge(self.cloud, finding_id, reason), indent=2).splitlines():
            self.progress.detail(f"  {line}")
        state = freeze_state(self.table, dynamodb=self.dynamodb)
        expect(not state.frozen, f"conveyor unfreeze left releases frozen: {state}")
        return {"unfrozen_by": state.lifted_by, "reason": state.lift_reason}

    # -- what the steps share ----------------------------------------------------------------------

    @property
    def table(self) -> str:
        return self.cloud.outputs["StateTableName"]

    @property
    def dynamodb(self) -> Any:
        return self.cloud.client("dynamodb")

    @property
    def canaries(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.summary.setdefault("canary", [])
        return found

    def next_seed(self) -> int:
        self.seed += 1
        return self.seed

    def requests(self, count: int) -> list[list[Any]]:
        """Rows as the endpoint's and the devices' clients send them: the features, no label."""
        features = [feature.name for feature in self.data.schema.features]
        return [[row[name] for name in features] for row in self.data.fresh(count, seed=3)]

    def upload(self, name: str, rows: list[dict[str, Any]]) -> None:
        stack.upload(self.cloud, name, csv_body(rows, self.data.schema.columns))
        self.cloud.deliveries.settle()
        self.progress.detail(f"uploaded incoming/{name}: {len(rows)} rows")

    def latest_run(self) -> str | None:
        names = [e["name"] for e in observe.executions(self.cloud) if e["workflow"] == "retraining"]
        return names[-1] if names else None

    def released(self) -> list[str]:
        return sorted(e["name"] for e in observe.executions(self.cloud) if e["workflow"] == "canary_release")

    def gated(self, run_id: str, decision: str | None, timeout: float = 300.0) -> dict[str, Any]:
        """Wait for retraining run ``run_id`` to start by itself and end; its model, decided as ``decision``
        (None: either way). Releases it starts are left at their first wait."""
        deadline = time.monotonic() + timeout
        while (status := observe.execution_status(self.cloud, "retraining", run_id)) in (None, "RUNNING"):
            expect(time.monotonic() < deadline, f"run {run_id} is {status or 'not started'} after {timeout:.0f} s")
            self.pause()
        expect(status == "SUCCEEDED", f"run {run_id} ended {status}")
        [model] = [m for m in observe.models(self.cloud) if m["run_id"] == run_id]
        against = "no champion yet" if model["champion_value"] is None else f"champion {model['champion_value']}"
        self.progress.detail(
            f"{run_id}: model {model['version']}, {model['metric']} {model['value']} "
            f"({against} on the same rows, floor {model['floor']}) -> {model['decision']}"
        )
        for reason in model["reasons"]:
            self.progress.detail(f"  {reason}")
        expect(decision in (None, model["decision"]), f"model of {run_id} was {model['decision']}, not {decision}")
        return model

    def canary(self, version: int, *, error_rate: float = 0.0) -> dict[str, Any]:
        """Bake package ``version`` beside the champion under steady traffic (its variant failing
        ``error_rate`` of requests) until it is promoted or rolled back; what happened, over time."""
        variant = f"p{version}"
        deadline = time.monotonic() + 60
        while get_canary(self.table, version, dynamodb=self.dynamodb) is None:
            expect(time.monotonic() < deadline, f"no canary of package {version} after 60 s")
            self.pause()
        # The bake runs on stack time at wall speed from here: only advance() moves it on.
        self.cloud.clock.scale = WALL_SPEED
        try:
            self.cloud.endpoint_faults.variant(self.cloud.outputs["EndpointName"], variant, error_rate=error_rate)
            self.cloud.traffic.start(
                self.cloud.outputs["EndpointName"], self.requests(50), per_second=REQUESTS_PER_SECOND
            )
            record = self.wait_canary(version, lambda r: r.state != CanaryState.DEPLOYING)
            began, timeline = self.cloud.clock.now(), list[dict[str, Any]]()
            while record.state in (CanaryState.BAKING, CanaryState.ROLLING_BACK, CanaryState.PROMOTING):
                seconds = self.since(began)
                expect(seconds < (BAKE_MINUTES + 5) * 60, f"canary of package {version} still {record.state}")
                state = observe.alarm_state(self.cloud, record.alarm_names)
                timeline.append({"seconds": seconds, "weights": observe.weights(self.cloud), "alarm": state})
                self.cloud.advance(seconds=LOOK_EVERY_SECONDS)
                record = self.wait_canary(version, lambda r: True)
        finally:
            self.cloud.traffic.stop()
            self.cloud.clock.scale = FAST
        self.cloud.run_until_idle(timeout=60, waiting=False)
        record = self.wait_canary(version, lambda r: r.state in (CanaryState.PROMOTED, CanaryState.ROLLED_BACK))
        zero = None
        if record.alarm_changed_at and record.weight_zero_at:
            # The alarm and the rollback happen within one look: their own times go on the timeline.
            before = timeline[-1]["weights"]
            timeline += [
                {"seconds": self.since(began, record.alarm_changed_at), "weights": before, "alarm": "ALARM"},
                {
                    "seconds": self.since(began, record.weight_zero_at),
                    "weights": {**before, variant: 0.0},
                    "alarm": "ALARM",
                },
            ]
            zero = round((record.weight_zero_at - record.alarm_changed_at).total_seconds(), 1)
        last = "ALARM" if zero is not None else "OK"
        timeline.append({"seconds": self.since(began), "weights": observe.weights(self.cloud), "alarm": last})
        outcome = {
            "package_version": version,
            "variant": variant,
            "outcome": record.state.value.lower(),
            "alarm": record.alarm_name,
            "alarm_to_weight_zero_seconds": zero,
            "timeline": sorted(timeline, key=lambda look: float(look["seconds"])),
        }
        self.canaries.append(outcome)
        self.progress.detail(f"canary {variant}: {outcome['outcome']} ({record.reason or 'baked healthy'})")
        return outcome

    def pause(self) -> None:
        """Let the stack work a moment: deliver what AWS would have delivered late by now (with
        at-least-once delivery, events are held back until released), then sleep."""
        self.cloud.deliveries.release()
        # Real time between looks: a read in a tight loop takes the interpreter from the work it waits for.
        time.sleep(0.05)

    def since(self, began: datetime, moment: datetime | None = None) -> float:
        """Stack seconds from ``began`` to ``moment`` (now)."""
        return round(((moment or self.cloud.clock.now()) - began).total_seconds(), 1)

    def wait_canary(self, version: int, done: Callable[[Any], bool], timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            record = get_canary(self.table, version, dynamodb=self.dynamodb)
            if record is not None and done(record):
                return record
            expect(time.monotonic() < deadline, f"canary of package {version} is {record}")
            self.pause()

    def intrude(self) -> list[dict[str, Any]]:
        """An IAM user of the account removes the data bucket's public access block; what the responder did."""
        expect(list_findings(self.table, dynamodb=self.dynamodb) == [], "the stack's own work raised a finding")
        iam = self.cloud.client("iam")
        iam.create_user(UserName="mallory")
        allowed = {"Effect": "Allow", "Action": "s3:PutBucketPublicAccessBlock", "Resource": "*"}
        policy = json.dumps({"Version": "2012-10-17", "Statement": [allowed]})
        iam.put_user_policy(UserName="mallory", PolicyName="public", PolicyDocument=policy)
        mallory = f"arn:aws:iam::{self.cloud.account_id}:user/mallory"
        bucket = self.cloud.outputs["DataBucketName"]
        self.cloud.client("s3", principal=mallory).delete_public_access_block(Bucket=bucket)
        self.progress.detail(f"{mallory} deleted the public access block of s3://{bucket}")
        self.cloud.run_until_idle(timeout=60, waiting=False)
        blocked = self.cloud.client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        findings = list_findings(self.table, dynamodb=self.dynamodb)
        frozen = freeze_state(self.table, dynamodb=self.dynamodb).frozen
        expect(all(blocked.values()) and frozen and len(findings) == 1, f"block {blocked}, frozen {frozen}, {findings}")
        [finding] = findings
        self.progress.detail(f"finding {finding.finding_id}: {finding.title}")
        self.progress.detail(f"undone: {', '.join(finding.remediated or [])}; releases frozen; the topic alerted")
        return [
            {
                "finding_id": finding.finding_id,
                "kind": finding.kind,
                "title": finding.title,
                "actor": finding.principal,
                "remediated": finding.remediated or [],
                "frozen": frozen,
            }
        ]
