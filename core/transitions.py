"""Workflow action tables: which action may be taken from which state, by whom, with what result.

Each workflow (consultation, referral, portal share) keeps one table `ACTIONS` next to its
model. Its services call `action_check` before they write anything, so an action the table
does not give (from this state, or to this person) changes nothing: no status, no event row,
no notification, no audit row of a change. Pages and the API answer the refusal with its
reason: 409 for the state, 403 for the person (`TransitionNotAllowed.http_status`; see
`core/refusals.py`).

Pure: no ORM, no request; the workflows' services say who the user is for the object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class TransitionNotAllowed(Exception):
    """The action is not allowed from the object's current state. The message is the reason,
    already translated, shown to the user as is."""

    http_status = 409

    def __init__(self, reason: str, action: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.action = action


class ActorNotAllowed(TransitionNotAllowed):
    """The action exists in this state, but not for this person."""

    http_status = 403


@dataclass(frozen=True)
class Rule:
    """One action of a workflow.

    `moves` maps each state the action may be taken from to the state it leaves the object in
    (None: the status stays; the action is still bound to those states). `actors` are the
    workflow's names for who may take it (see each workflow's `Actor`). `actor_refusal` is
    the reason given to anyone else; `refusals` gives a more precise reason than the general
    one for some refused states. `automatic` actions are never asked for on their own: a
    service takes them as the effect of another (the answer to an information request is
    the referring doctor's message while information is requested).
    """

    label: Any
    moves: Mapping[str, str | None]
    actors: frozenset[str]
    actor_refusal: Any
    refusals: Mapping[str, Any] = field(default_factory=dict)
    automatic: bool = False

    def result(self, state: str) -> str:
        """The state after the action taken from `state`."""
        return self.moves[state] or state


def action_check(
    table: Mapping[str, Rule],
    action: str,
    *,
    state: str,
    state_label: str,
    actors: Iterable[str],
    refusal: str,
    actor_refusal: str | None = None,
    state_error: type[TransitionNotAllowed] = TransitionNotAllowed,
    actor_error: type[ActorNotAllowed] = ActorNotAllowed,
) -> Rule:
    """The rule for `action`, or TransitionNotAllowed with the reason.

    The state is checked first: from a state the table does not give, nobody may act.
    `refusal` is the workflow's general reason with `%(state)s` and `%(action)s`;
    `actor_refusal` a finer reason than the rule's own, when the service knows one.
    """
    rule = table[action]
    if state not in rule.moves:
        reason = rule.refusals.get(state) or refusal % {
            "state": state_label,
            "action": rule.label,
        }
        raise state_error(str(reason), action)
    if not rule.actors & set(actors):
        raise actor_error(str(actor_refusal or rule.actor_refusal), action)
    return rule


def refused_pairs(table: Mapping[str, Rule], states: Iterable[str]) -> list[tuple[str, str]]:
    """Every (state, action) the table does not allow, for actions asked for on their own."""
    states = list(states)
    return [
        (state, action)
        for action, rule in table.items()
        if not rule.automatic
        for state in states
        if state not in rule.moves
    ]


def from_states(sources: Iterable[str], to: str | None = None) -> dict[str, str | None]:
    """`moves` for an action that leads from each of `sources` to `to` (None: status stays)."""
    return dict.fromkeys(sources, to)
