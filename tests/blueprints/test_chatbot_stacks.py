"""The chatbot example (pizza ordering) as the contract synthesized it: snapshot, targeted assertions, refusals."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from conftest import cdk_json_context, mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError

AGNOSTIC = "PizzaBot-agnostic"


def _statements(template: dict, role_id: str) -> list[dict]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def _locale(template: dict) -> dict:
    _, bot = one_resource(template, "AWS::Lex::Bot")
    (locale,) = bot["Properties"]["BotLocales"]
    return locale


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[AGNOSTIC]) == snapshot_json


def test_the_pizza_bot_is_built_from_the_definition(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, bot = one_resource(template, "AWS::Lex::Bot")
    assert bot["Properties"]["DataPrivacy"] == {"ChildDirected": False}
    assert (
        bot["Properties"]["AutoBuildBotLocales"] is True
        and bot["Properties"]["IdleSessionTTLInSeconds"] == 300
    )
    locale = _locale(template)
    assert locale["VoiceSettings"] == {"VoiceId": "Joanna", "Engine": "neural"}
    types = {t["Name"]: t for t in locale["SlotTypes"]}
    assert set(types) == {"PizzaSize", "CrustType", "Topping", "Drink"}
    assert {"SampleValue": {"Value": "large"}, "Synonyms": [{"Value": "big"}]} in types["PizzaSize"][
        "SlotTypeValues"
    ]
    intents = {i["Name"]: i for i in locale["Intents"]}
    assert set(intents) == {"OrderPizza", "OrderDrink", "FallbackIntent"}
    assert intents["FallbackIntent"]["ParentIntentSignature"] == "AMAZON.FallbackIntent"
    pizza = intents["OrderPizza"]
    slots = {s["Name"]: s for s in pizza["Slots"]}
    assert slots["Toppings"]["MultipleValuesSetting"] == {"AllowMultipleValues": True}
    assert [p["SlotName"] for p in pizza["SlotPriorities"]] == ["Size", "Crust", "Toppings"]
    assert pizza["DialogCodeHook"] == {"Enabled": True}
    # Once the pizza is ordered, the drink intent starts (chained intents).
    next_step = pizza["FulfillmentCodeHook"]["PostFulfillmentStatusSpecification"]["SuccessNextStep"]
    assert next_step == {"DialogAction": {"Type": "StartIntent"}, "Intent": {"Name": "OrderDrink"}}
    assert (
        "IntentConfirmationSetting" in pizza and "DeclinationResponse" in pizza["IntentConfirmationSetting"]
    )


def test_the_live_alias_calls_the_code_hook_and_logs_encrypted(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, alias = one_resource(template, "AWS::Lex::BotAlias")
    version_id, version = one_resource(template, "AWS::Lex::BotVersion")
    assert alias["Properties"]["BotVersion"] == {"Fn::GetAtt": [version_id, "BotVersion"]}
    assert version["Properties"]["Description"].startswith("Definition ")
    (setting,) = alias["Properties"]["BotAliasLocaleSettings"]
    hook = setting["BotAliasLocaleSetting"]["CodeHookSpecification"]["LambdaCodeHook"]
    function_id = hook["LambdaArn"]["Fn::GetAtt"][0]
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    logs = alias["Properties"]["ConversationLogSettings"]
    (audio,) = logs["AudioLogSettings"]
    assert audio["Destination"]["S3Bucket"]["KmsKeyArn"] == {"Fn::GetAtt": [key_id, "Arn"]}
    (text,) = logs["TextLogSettings"]
    log_group_id = text["Destination"]["CloudWatch"]["CloudWatchLogGroupArn"]["Fn::GetAtt"][0]
    assert template["Resources"][log_group_id]["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    # Only the live alias may invoke the code hook; the hook knows the bot's menu.
    (permission,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"]
    alias_id, _ = one_resource(template, "AWS::Lex::BotAlias")
    assert permission["Properties"]["Principal"] == "lexv2.amazonaws.com"
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": [alias_id, "Arn"]}
    menu = json.loads(template["Resources"][function_id]["Properties"]["Environment"]["Variables"]["MENU"])
    assert menu["OrderPizza"]["Size"] == ["small", "medium", "large"]
    chains = json.loads(
        template["Resources"][function_id]["Properties"]["Environment"]["Variables"]["CHAINS"]
    )
    assert chains == {
        "OrderPizza": {
            "intent": "OrderDrink",
            "slot": "Drink",
            "prompt": "Which drink: cola, lemonade or water?",
        }
    }


def test_the_bot_role_writes_its_logs_and_speaks(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, bot = one_resource(template, "AWS::Lex::Bot")
    role_id = bot["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    (trust,) = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lexv2.amazonaws.com"} and "aws:SourceArn" in json.dumps(
        trust["Condition"]
    )
    by_action = {a: s for s in _statements(template, role_id) for a in _actions(s)}
    assert set(by_action) == {"polly:SynthesizeSpeech", "logs:CreateLogStream", "logs:PutLogEvents", "s3:PutObject",
                              "kms:GenerateDataKey"}  # fmt: skip
    assert json.dumps(by_action["s3:PutObject"]["Resource"]).endswith('"/audio/*"]]}')


def _hello_bot(**settings) -> dict:
    stacks = {"Bot": {"blueprint": "chatbot", "intents": [{"name": "Hello", "utterances": ["hello"], "code_hook": False,
                                                          "closing": "Hi!", "slots": []}], **settings}}  # fmt: skip
    app = build_app(App(context={**cdk_json_context(), "stacks": json.dumps(stacks)}), gates=False)
    return app.synth().get_stack_by_name("Bot").template


def test_a_changed_definition_or_session_setting_makes_a_new_version():
    def description(**settings) -> str:
        template = _hello_bot(**settings)
        assert not any(r["Type"] == "AWS::Lambda::Function" for r in template["Resources"].values())
        return one_resource(template, "AWS::Lex::BotVersion")[1]["Properties"]["Description"]

    base = description()
    assert description(fallback_message="Pardon?") != base
    assert description(idle_session_minutes=10) != base


def test_a_child_directed_bot_keeps_no_conversation_logs():
    # "You can't use conversation logs with a bot subject to COPPA" (Lex V2 Developer Guide).
    template = _hello_bot(child_directed=True)
    _, alias = one_resource(template, "AWS::Lex::BotAlias")
    assert "ConversationLogSettings" not in alias["Properties"]
    assert not any(
        r["Type"] in ("AWS::Logs::LogGroup", "AWS::S3::Bucket") for r in template["Resources"].values()
    )


def test_obfuscated_slots_keep_text_logs_only():
    intents = [{"name": "Register", "utterances": ["my email is {Email}"], "code_hook": False,
                "slots": [{"name": "Email", "type": "AMAZON.EmailAddress", "prompt": "Your email?", "obfuscate": True}]}]  # fmt: skip
    template = _hello_bot(intents=intents)
    _, alias = one_resource(template, "AWS::Lex::BotAlias")
    assert set(alias["Properties"]["ConversationLogSettings"]) == {"TextLogSettings"}
    slot = _locale(template)["Intents"][0]["Slots"][0]
    assert slot["ObfuscationSetting"] == {"ObfuscationSettingType": "DefaultObfuscation"}


def test_refusals_are_reported_at_once():
    stacks = {"Bad": {"blueprint": "chatbot", "voice": "Robot", "idle_session_minutes": 0,
                      "intents": [{"name": "Order", "utterances": ["a {Size} pizza"]}],
                      "env": {"account": "123456789012", "region": "sa-east-1"}}}  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("Amazon Lex V2 is not offered in sa-east-1", "not an Amazon Polly voice",
                     "names slot {Size}", "idle_session_minutes: 1 to 1440"):  # fmt: skip
        assert expected in message, expected
