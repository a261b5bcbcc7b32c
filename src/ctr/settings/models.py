"""The settings of each command, as typed, frozen models built from the registry (``fields``)."""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel, to_snake

from ctr.settings import fields as f


class Settings(BaseModel):
    """Base of every settings model: frozen, no unknown fields, camelCase field names in documents."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )


class KafkaSettings(Settings):
    """Where the producer and the job meet: the broker and the event topics."""

    bootstrap_servers: f.BootstrapServers
    impressions_topic: f.ImpressionsTopic
    clicks_topic: f.ClicksTopic


class LiveSettingsError(ValueError):
    """A live settings document that cannot be applied; the text names the field."""


class LiveSettings(Settings):
    """The settings a running producer takes without a restart: rate, click model, campaigns, state."""

    rate: f.Rate
    click_probability: f.ClickProbability
    max_click_delay: f.MaxClickDelay
    campaigns: f.CampaignList
    campaign_weights: f.CampaignWeights
    state: f.ProducerState

    @model_validator(mode="after")
    def _weights_match_campaigns(self) -> "LiveSettings":
        if self.campaign_weights is not None and len(self.campaign_weights) != len(self.campaigns):
            raise ValueError(
                f"campaignWeights has {len(self.campaign_weights)} weights "
                f"for {len(self.campaigns)} campaigns"
            )
        return self

    @property
    def paused(self) -> bool:
        """True when no new impressions are to be sent."""
        return self.state == "Paused"

    def updated(self, document: Mapping[str, Any]) -> "LiveSettings":
        """These settings with the fields of ``document`` (camelCase keys) applied; a null field takes
        its default.

        Raises LiveSettingsError that names the field.
        """
        current = {name: getattr(self, name) for name in LiveSettings.model_fields}
        changes = {to_snake(key): value for key, value in document.items() if value is not None}
        reset = {to_snake(key) for key, value in document.items() if value is None}
        unknown = sorted(key for key in document if to_snake(key) not in LiveSettings.model_fields)
        if unknown:
            known = ", ".join(
                sorted(field.alias or name for name, field in LiveSettings.model_fields.items())
            )
            raise LiveSettingsError(f"unknown field {unknown[0]} (known: {known})")
        merged = {name: value for name, value in {**current, **changes}.items() if name not in reset}
        try:
            return LiveSettings.model_validate({to_camel(name): value for name, value in merged.items()})
        except ValidationError as err:
            raise LiveSettingsError(validation_message(err)) from None


def validation_message(error: ValidationError, source: Mapping[str, str] | None = None) -> str:
    """One line naming each bad field (by ``source[name]`` if given, else its field name) and the problem."""
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        where = (source or {}).get(to_snake(name)) or name
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


class ProducerSettings(KafkaSettings, LiveSettings):
    """``ctr produce``."""

    seed: f.Seed
    max_events: f.MaxEvents
    duration: f.RunDuration
    drain_timeout: f.DrainTimeout
    config_file: f.ConfigFile
    config_map: f.ConfigMap
    namespace: f.Namespace
    metrics_port: f.MetricsPort
    progress_interval: f.ProgressInterval

    @model_validator(mode="after")
    def _one_config_source(self) -> "ProducerSettings":
        if self.config_file is not None and self.config_map is not None:
            raise ValueError("--config-file and --config-map exclude each other")
        return self

    def live(self) -> LiveSettings:
        """The live settings these start with."""
        return LiveSettings.model_validate({name: getattr(self, name) for name in LiveSettings.model_fields})


class BrokerSettings(Settings):
    """``ctr broker``."""

    broker_port: f.BrokerPort
    partitions: f.Partitions
    broker_data_dir: f.BrokerDataDir
    broker_heap: f.BrokerHeap


class JobSettings(KafkaSettings):
    """``ctr job``."""

    dlq_topic: f.DlqTopic
    output_dir: f.OutputDir
    checkpoint_dir: f.CheckpointDir
    checkpoint_interval: f.CheckpointInterval
    window: f.Window
    join_bound: f.JoinBound
    out_of_orderness: f.OutOfOrderness
    update_interval: f.UpdateInterval
    idle_timeout: f.IdleTimeout
    parallelism: f.Parallelism
    from_checkpoint: f.FromCheckpoint
    group_id: f.GroupId
    restart_attempts: f.RestartAttempts
    restart_strategy: f.RestartStrategy
    kafka_wait: f.KafkaWait
    log_dir: f.LogDir
    flink_log_level: f.FlinkLogLevel
    job_jars: f.JobJars
    results_topic: f.ResultsTopic
    publish_results: f.PublishResults
    live_topic: f.LiveTopic
    metrics_port: f.MetricsPort


class LocalJobSettings(JobSettings):
    """``ctr job``: the job's settings, and the local Flink cluster it runs on."""

    taskmanagers: f.TaskManagers
    task_slots: f.TaskSlots
    web_ui_port: f.WebUiPort
    jvm_heap: f.JvmHeap


class ResultsSettings(Settings):
    """``ctr results``: where the committed results are."""

    output_dir: f.OutputDir


class ResultsTopicSettings(Settings):
    """``ctr results --topic``: where the CTR rows' topic is."""

    bootstrap_servers: f.BootstrapServers
    results_topic: f.ResultsTopic
    live_topic: f.LiveTopic


class OperatorSettings(KafkaSettings):
    """``ctr operator``: which Producers it manages, and what a Producer leaves out."""

    namespaces: f.Namespaces
    peering: f.Peering
    resync_interval: f.ResyncInterval
    producer_image: f.ProducerImage
    metrics_port: f.MetricsPort


#: The demo shows a known true CTR per campaign, at a rate the first windows fill quickly.
DEMO_RATE = 100.0
DEMO_CAMPAIGNS = "campaign-1=0.05,campaign-2=0.10,campaign-3=0.20"


class DemoSettings(Settings):
    """``ctr demo``: the producer's and the job's settings that a demo varies, and where it keeps its data."""

    data_dir: f.DataDir
    duration: f.RunDuration
    rate: f.Rate = Field(DEMO_RATE)
    click_probability: f.ClickProbability
    max_click_delay: f.MaxClickDelay
    campaigns: f.CampaignList = Field(DEMO_CAMPAIGNS, validate_default=True)
    seed: f.Seed
    window: f.Window
    join_bound: f.JoinBound
    out_of_orderness: f.OutOfOrderness
    update_interval: f.UpdateInterval
    checkpoint_interval: f.CheckpointInterval
    idle_timeout: f.IdleTimeout
    parallelism: f.Parallelism
    publish_results: f.PublishResults
    taskmanagers: f.TaskManagers
    web_ui_port: f.WebUiPort
    jvm_heap: f.JvmHeap
    broker_heap: f.BrokerHeap
