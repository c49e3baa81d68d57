"""The bot's code hook: validation on each turn (DialogCodeHook), and fulfilment (FulfillmentCodeHook).

Lex V2 Lambda interface 1.0 ("Understanding Lambda function input and response formats", Amazon Lex V2
Developer Guide). ``MENU`` (an environment variable) lists, per intent and slot, the values the bot offers
(its custom slot types' values, which Lex resolves synonyms to): a value outside them is asked for again,
naming what is on offer. Fulfilment closes the intent with a summary of what was ordered, or, for an intent
chained to another (``CHAINS``), says the summary and starts the next intent by asking for its first slot:
with a Lambda code hook, "the conversation resumes based on the session state configured in the Lambda
function" (Amazon Lex V2 Developer Guide), so the hook, not the bot's post-fulfilment step, moves on.
"""

from __future__ import annotations

import json
import os
from typing import Any


def _menu() -> dict[str, dict[str, list[str]]]:
    return json.loads(os.environ.get("MENU", "{}"))


def _chains() -> dict[str, dict[str, str | None]]:
    return json.loads(os.environ.get("CHAINS", "{}"))


def _values(slot: dict[str, Any] | None) -> list[str]:
    """A slot's interpreted values: one, or several for a multi-valued slot; none when it is empty."""
    if not slot:
        return []
    if slot.get("values"):
        return [v for item in slot["values"] for v in _values(item)]
    value = (slot.get("value") or {}).get("interpretedValue")
    return [value] if value else []


def _message(text: str) -> list[dict[str, str]]:
    return [{"contentType": "PlainText", "content": text}]


def _spoken_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def validate(event: dict[str, Any]) -> dict[str, Any]:
    intent = event["sessionState"]["intent"]
    offered = _menu().get(intent["name"], {})
    for slot_name, allowed in offered.items():
        for value in _values(intent["slots"].get(slot_name)):
            if value.lower() not in {a.lower() for a in allowed}:
                intent["slots"][slot_name] = None
                return {
                    "sessionState": {
                        "dialogAction": {"type": "ElicitSlot", "slotToElicit": slot_name},
                        "intent": {**intent, "state": "InProgress"},
                        "sessionAttributes": event["sessionState"].get("sessionAttributes", {}),
                    },
                    "messages": _message(
                        f"Sorry, {value} is not on the menu. Choose a {slot_name.lower()}: {_spoken_list(allowed)}."
                    ),
                }
    return {
        "sessionState": {
            "dialogAction": {"type": "Delegate"},
            "intent": intent,
            "sessionAttributes": event["sessionState"].get("sessionAttributes", {}),
        }
    }


def fulfil(event: dict[str, Any]) -> dict[str, Any]:
    intent = event["sessionState"]["intent"]
    chosen = [
        f"{name.lower()} {' and '.join(values)}"
        for name, slot in intent["slots"].items()
        if (values := _values(slot))
    ]
    summary = f"Thank you: {', '.join(chosen)}." if chosen else "Thank you."
    following = _chains().get(intent["name"])
    attributes = event["sessionState"].get("sessionAttributes", {})
    if following is not None:
        next_intent = {"name": following["intent"], "slots": {}, "state": "InProgress"}
        if following["slot"]:
            return {
                "sessionState": {
                    "dialogAction": {"type": "ElicitSlot", "slotToElicit": following["slot"]},
                    "intent": next_intent,
                    "sessionAttributes": attributes,
                },
                "messages": _message(f"{summary} {following['prompt']}"),
            }
        return {
            "sessionState": {
                "dialogAction": {"type": "Delegate"},
                "intent": next_intent,
                "sessionAttributes": attributes,
            },
            "messages": _message(summary),
        }
    return {
        "sessionState": {
            "dialogAction": {"type": "Close"},
            "intent": {**intent, "state": "Fulfilled"},
            "sessionAttributes": event["sessionState"].get("sessionAttributes", {}),
        },
        "messages": _message(summary),
    }


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if event.get("invocationSource") == "FulfillmentCodeHook":
        return fulfil(event)
    return validate(event)
