"""Structural rules of every workflow: Retry and Catch on each Task, valid transitions, failures that notify."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.state import PARTITION_KEY, SORT_KEY
from conveyor.state.control import FREEZE_KEY, FROZEN
from localcloud.template import load_sam_template
from tests.conftest import ROOT, TEMPLATE

MACHINES = sorted((ROOT / "statemachines").glob("*.asl.json"))
NOTIFY = "arn:aws:states:::sns:publish"


def states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, state, the States it belongs to) for every state, nested ones included."""
    for name, state in definition["States"].items():
        yield name, state, definition["States"]
        for nested in [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]:
            if nested:
                yield from states(nested)


def load(path: Path) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(path.read_text())
    return definition


@pytest.mark.parametrize("path", MACHINES, ids=lambda p: p.name)
def test_every_task_has_retry_and_catch(path: Path) -> None:
    missing = [
        name
        for name, state, _ in states(load(path))
        if state["Type"] == "Task" and not (state.get("Retry") and state.get("Catch"))
    ]
    assert missing == []


@pytest.mark.parametrize("path", MACHINES, ids=lambda p: p.name)
def test_every_transition_names_an_existing_state(path: Path) -> None:
    definition = load(path)
    assert definition["StartAt"] in definition["States"]
    for name, state, siblings in states(definition):
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice.get("Next") for choice in state.get("Choices", [])]
        targets += [catch["Next"] for catch in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in siblings, f"{path.name}: {name} goes to missing state {target}"


def notifies_on_every_path(name: str, siblings: dict[str, Any]) -> bool:
    """Whether every path from state ``name`` publishes to the notification topic before it ends."""
    state = siblings[name]
    if state.get("Resource") == NOTIFY:
        return True
    following = [state.get("Next"), state.get("Default"), *(choice["Next"] for choice in state.get("Choices", []))]
    following = [target for target in following if target]
    return bool(following) and all(notifies_on_every_path(target, siblings) for target in following)


def is_end_of_bake(state: dict[str, Any], catch: dict[str, Any]) -> bool:
    """A callback state bounded by its timeout: the timeout is how a healthy bake ends, not a failure."""
    return state.get("Resource", "").endswith(".waitForTaskToken") and catch["ErrorEquals"] == ["States.Timeout"]


def is_recorded_item_failure(catch: dict[str, Any], siblings: dict[str, Any]) -> bool:
    """A failure inside a Map item that becomes the item's result (a Pass that ends the item with a
    FAILED status): the workflow reports the Map's failed items after it, the others go on."""
    recorder = siblings[catch["Next"]]
    return recorder["Type"] == "Pass" and recorder.get("End") is True and recorder["Parameters"]["status"] == "FAILED"


@pytest.mark.parametrize("path", MACHINES, ids=lambda p: p.name)
def test_every_catch_leads_to_a_notification(path: Path) -> None:
    for name, state, siblings in states(load(path)):
        if state.get("Resource") == NOTIFY:
            continue  # a failed notification cannot notify; it goes straight to its Fail state
        for catch in state.get("Catch", []):
            if is_end_of_bake(state, catch) or is_recorded_item_failure(catch, siblings):
                continue
            if catch["Next"] == state.get("Next") and "States.ALL" not in catch["ErrorEquals"]:
                continue  # the error says the step was done already (a create retried): carry on
            assert notifies_on_every_path(catch["Next"], siblings), f"{path.name}: {name} fails silently"


@pytest.mark.parametrize("path", MACHINES, ids=lambda p: p.name)
def test_every_arn_comes_from_a_substitution(path: Path) -> None:
    text = path.read_text()
    hard_coded = re.findall(r'"arn:aws:(?!states:::)[^"]*"', text)
    assert hard_coded == []
    assert "123456789012" not in text


def test_the_two_training_states_differ_only_in_their_vpc_placement() -> None:
    # Step Functions has no way to leave VpcConfig out of one state when TrainingSubnetIds is empty,
    # so training without and with a VPC are two states; this keeps them from drifting apart.
    retraining = load(ROOT / "statemachines" / "retraining.asl.json")["States"]
    plain, in_vpc = retraining["Train model"], retraining["Train model in the VPC"]
    vpc = in_vpc["Parameters"].pop("VpcConfig")
    assert plain == in_vpc
    assert set(vpc) == {"Subnets.$", "SecurityGroupIds.$"}


def test_the_workflow_reads_the_freeze_item_the_state_module_writes() -> None:
    # Given the retraining workflow's definition with template.yaml's substitutions applied
    template = load_sam_template(TEMPLATE)["Resources"]
    substitutions = template["RetrainingStateMachine"]["Properties"]["DefinitionSubstitutions"]
    text = (ROOT / "statemachines" / "retraining.asl.json").read_text()
    for name, value in substitutions.items():
        if isinstance(value, str):
            text = text.replace(f"${{{name}}}", value)
    retraining = json.loads(text)["States"]
    # Then both of its checks read the key conveyor.state.control owns, on the table's own key schema
    for check in ("Check the release freeze", "Check the release freeze before registering"):
        assert retraining[check]["Parameters"]["Key"] == FREEZE_KEY, check
    key_schema = template["StateTable"]["Properties"]["KeySchema"]
    assert [(k["AttributeName"], k["KeyType"]) for k in key_schema] == [(PARTITION_KEY, "HASH"), (SORT_KEY, "RANGE")]
    # And decide on the attribute the module sets
    for decision in ("Are releases frozen", "Were releases frozen during the run"):
        [choice] = retraining[decision]["Choices"]
        assert {rule["Variable"] for rule in choice["And"]} == {f"$.freeze.Item.{FROZEN}.BOOL"}, decision


def test_a_run_checks_the_freeze_again_before_it_registers_or_releases() -> None:
    retraining = load(ROOT / "statemachines" / "retraining.asl.json")["States"]
    assert retraining["Evaluate against the champion"]["Next"] == "Check the release freeze before registering"
    assert retraining["Were releases frozen during the run"]["Default"] == "Register model package"
