"""Lex: the bot definition's checks (limits from botocore's lexv2-models and polly models) and the code hook
against Lex V2's Lambda event and response formats."""

from __future__ import annotations

import json

import pytest

from mlblueprints.constructs.lex._handlers import code_hook
from mlblueprints.constructs.lex.bot import BotDefinition, Intent, Slot, SlotType, bot_problems

SIZE = SlotType("PizzaSize", {"small": [], "large": ["big"]})
ORDER = Intent("OrderPizza", ["I want a {Size} pizza"], [Slot("Size", "PizzaSize", "What size?")])


def _messages(definition: BotDefinition) -> str:
    return " | ".join(p.message for p in bot_problems(definition))


def test_a_valid_bot_has_no_problem():
    assert bot_problems(BotDefinition([ORDER], [SIZE])) == []


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (BotDefinition([Intent("OrderPizza", ["A {Crust} pizza"], [Slot("Size", "PizzaSize", "?")])], [SIZE]),
         "names slot {Crust}, which the intent does not have (its slots: Size)"),
        (BotDefinition([Intent("OrderPizza", ["pizza"], [Slot("Size", "Sizes", "?")])], [SIZE]), "'Sizes', which is neither"),
        (BotDefinition([Intent("OrderPizza", ["pizza"], [Slot("N", "AMAZON.Number", "?", multiple_values=True)])]),
         "custom slot types only"),
        (BotDefinition([ORDER, ORDER], [SIZE]), "intent 'OrderPizza' is defined twice"),
        (BotDefinition([ORDER], [SIZE, SIZE]), "slot type 'PizzaSize' is defined twice"),
        (BotDefinition([Intent("Order Pizza", ["pizza"])]), "letters and digits"),
        (BotDefinition([Intent("OrderPizza", [])]), "give sample utterances"),
        (BotDefinition([]), "at least one intent"),
        (BotDefinition([Intent("FallbackIntent", ["x"])]), "FallbackIntent is the bot's own"),
        (BotDefinition([ORDER], [SIZE], voice_id="Robot"), "not an Amazon Polly voice"),
        (BotDefinition([ORDER], [SIZE], voice_engine="turbo"), "voice_engine 'turbo'"),
        (BotDefinition([ORDER], [SIZE], confidence_threshold=1.5), "confidence_threshold 1.5"),
        (BotDefinition([ORDER], [SIZE], max_retries=6), "max_retries 6: 0 to 5"),
        (BotDefinition([ORDER], [SIZE], locale_id="english"), "a Lex locale such as en_US"),
        (BotDefinition([ORDER], [SlotType("PizzaSize", {"x" * 141: []})]), "1 to 140 characters"),
        (BotDefinition([ORDER], [SlotType("PizzaSize", {})]), "1 to 10000 values"),
        (BotDefinition([Intent("OrderPizza", ["pizza"], declination="Fine.")]), "give the confirmation too"),
        (BotDefinition([Intent("OrderPizza", ["pizza"], next_intent="OrderDrink")]), "next_intent 'OrderDrink'"),
        (BotDefinition([Intent("OrderPizza", ["pizza"], closing="x" * 1001)]), "1 to 1000 characters"),
        (BotDefinition([Intent("OrderPizza", ["pizza"], [Slot("T", "PizzaSize", "?", multiple_values=True)])], [SIZE],
                       locale_id="en_GB"), "in en_US only"),
    ],
)  # fmt: skip
def test_rejections(definition, expected):
    messages = _messages(definition)
    assert expected in messages, messages


def test_the_menu_lists_each_custom_slots_values():
    assert BotDefinition([ORDER], [SIZE]).menu() == {"OrderPizza": {"Size": ["small", "large"]}}


def test_chains_name_the_next_intent_and_its_first_slot():
    drink = Intent("OrderDrink", ["a drink"], [Slot("Drink", "AMAZON.AlphaNumeric", "Which drink?")])
    chained = Intent("OrderPizza", ["pizza"], next_intent="OrderDrink")
    assert BotDefinition([chained, drink]).chains() == {
        "OrderPizza": {"intent": "OrderDrink", "slot": "Drink", "prompt": "Which drink?"}
    }


def _event(source: str, slots: dict, intent: str = "OrderPizza") -> dict:
    return {
        "invocationSource": source,
        "sessionState": {
            "intent": {"name": intent, "slots": slots, "state": "InProgress"},
            "sessionAttributes": {},
        },
    }


def _slot(value: str) -> dict:
    return {"value": {"originalValue": value, "interpretedValue": value, "resolvedValues": [value]}}


@pytest.fixture(autouse=True)
def menu(monkeypatch):
    menu = {"OrderPizza": {"Size": ["small", "large"], "Toppings": ["ham", "pineapple"]}}
    monkeypatch.setenv("MENU", json.dumps(menu))


def test_valid_values_are_delegated_back_to_lex():
    response = code_hook.handle(_event("DialogCodeHook", {"Size": _slot("large"), "Toppings": None}))
    assert response["sessionState"]["dialogAction"] == {"type": "Delegate"}


def test_a_value_off_the_menu_is_asked_for_again():
    response = code_hook.handle(_event("DialogCodeHook", {"Size": _slot("huge")}))
    state = response["sessionState"]
    assert state["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "Size"}
    assert state["intent"]["slots"]["Size"] is None and state["intent"]["state"] == "InProgress"
    assert (
        response["messages"][0]["content"] == "Sorry, huge is not on the menu. Choose a size: small or large."
    )


def test_each_value_of_a_multi_valued_slot_is_checked():
    toppings = {"values": [_slot("ham"), _slot("anchovies")]}
    response = code_hook.handle(_event("DialogCodeHook", {"Size": _slot("small"), "Toppings": toppings}))
    assert response["sessionState"]["dialogAction"]["slotToElicit"] == "Toppings"
    assert "anchovies is not on the menu" in response["messages"][0]["content"]


def test_fulfilment_closes_with_a_summary():
    toppings = {"values": [_slot("ham"), _slot("pineapple")]}
    response = code_hook.handle(_event("FulfillmentCodeHook", {"Size": _slot("large"), "Toppings": toppings}))
    state = response["sessionState"]
    assert state["dialogAction"] == {"type": "Close"} and state["intent"]["state"] == "Fulfilled"
    assert response["messages"][0]["content"] == "Thank you: size large, toppings ham and pineapple."


def test_an_intent_without_a_menu_is_delegated():
    response = code_hook.handle(_event("DialogCodeHook", {"Drink": _slot("tea")}, intent="OrderDrink"))
    assert response["sessionState"]["dialogAction"] == {"type": "Delegate"}


def test_a_chained_intent_starts_by_asking_for_its_first_slot(monkeypatch):
    chains = {"OrderPizza": {"intent": "OrderDrink", "slot": "Drink", "prompt": "Which drink?"}}
    monkeypatch.setenv("CHAINS", json.dumps(chains))
    response = code_hook.handle(_event("FulfillmentCodeHook", {"Size": _slot("large")}))
    state = response["sessionState"]
    assert state["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "Drink"}
    assert state["intent"] == {"name": "OrderDrink", "slots": {}, "state": "InProgress"}
    assert response["messages"][0]["content"] == "Thank you: size large. Which drink?"


def test_a_chained_intent_without_slots_is_delegated(monkeypatch):
    monkeypatch.setenv(
        "CHAINS", json.dumps({"OrderPizza": {"intent": "SayBye", "slot": None, "prompt": None}})
    )
    response = code_hook.handle(_event("FulfillmentCodeHook", {}))
    assert response["sessionState"]["dialogAction"] == {"type": "Delegate"}
    assert response["sessionState"]["intent"]["name"] == "SayBye"
