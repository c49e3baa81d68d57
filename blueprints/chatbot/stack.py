"""Blueprint: an Amazon Lex V2 bot defined in config, with a code hook and encrypted conversation logs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Environment, RemovalPolicy, Stack

from constructs import Construct
from mlblueprints.blueprints.chatbot.settings import LEX_RESOURCE_TYPES, ChatbotSettings
from mlblueprints.constructs.compute.regional_offerings import (
    assert_resource_types_at_deploy,
    assert_services_at_deploy,
)
from mlblueprints.constructs.lex.bot import ChatBot
from mlblueprints.constructs.security.baseline import SecurityBaseline

__all__ = ["ChatbotStack"]


class ChatbotStack(Stack):
    """The bot, its alias, its code hook, and its encrypted conversation logs."""

    def __init__(
        self, scope: Construct, id: str, *, settings: ChatbotSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or f"mlblueprints chatbot: Amazon Lex V2 bot ({', '.join(i.name for i in settings.intents)})",
        )
        assert_services_at_deploy(self, "models-v2-lex", what="Amazon Lex V2")
        assert_resource_types_at_deploy(self, *LEX_RESOURCE_TYPES, what="Amazon Lex V2")
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        key = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy).key.key
        self.bot = ChatBot(
            self,
            "Bot",
            definition=settings.definition(),
            encryption_key=key,
            idle_session_ttl=Duration.minutes(settings.idle_session_minutes),
            child_directed=settings.child_directed,
            code_hook_concurrency=settings.code_hook_concurrency,
            removal_policy=removal_policy,
        )
        CfnOutput(self, "BotId", value=self.bot.bot_id)
        CfnOutput(
            self,
            "BotAliasId",
            value=self.bot.alias_id,
            description="aws lexv2-runtime recognize-text --bot-id <BotId> --bot-alias-id <this> --locale-id ...",
        )
        if self.bot.text_logs is not None:
            CfnOutput(self, "ConversationLogs", value=self.bot.text_logs.log_group_name)
