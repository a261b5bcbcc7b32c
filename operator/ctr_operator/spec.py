"""A ``Producer``'s spec, validated once by one model built from the settings registry.

The CRD's schema is generated from this model (``crd.py``), so the API server and the operator
hold a spec to the same bounds; what a schema cannot say (weights per campaign) the model checks.
"""

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from ctr.settings import fields as f
from ctr.settings.models import KafkaSettings, LiveSettings, Settings, validation_message
from ctr.settings.types import Text

MAX_REPLICAS = 20


def _operator_default(name: str) -> Any:
    """The field of a Kafka setting a Producer may leave out: the operator's own value applies."""
    description = KafkaSettings.model_fields[name].description
    return Field(None, description=f"{description} (default: the operator's)")


class ProducerSpec(Settings):
    """What a Producer asks for: the producer's live settings, its bounds, and its pods.

    It holds the live settings' fields rather than subclassing ``LiveSettings``: its ``state`` takes
    Stopped too, which a producer does not; ``live()`` gives the ``LiveSettings`` of one pod.
    """

    rate: f.Rate
    click_probability: f.ClickProbability
    max_click_delay: f.MaxClickDelay
    campaigns: f.CampaignList
    campaign_weights: f.CampaignWeights
    state: Annotated[
        Literal["Running", "Paused", "Stopped"],
        Field(
            "Running",
            description="Running sends traffic; Paused sends only scheduled clicks; "
            "Stopped drains and scales to 0",
        ),
    ]
    seed: f.Seed
    max_events: f.MaxEvents
    duration: f.RunDuration
    bootstrap_servers: Text | None = _operator_default("bootstrap_servers")
    impressions_topic: Text | None = _operator_default("impressions_topic")
    clicks_topic: Text | None = _operator_default("clicks_topic")
    image: Annotated[
        Text | None, Field(None, description="container image of the producer (default: the operator's)")
    ]
    replicas: Annotated[
        int, Field(1, ge=1, le=MAX_REPLICAS, description="producer pods; the rate is split between them")
    ]
    resources: Annotated[
        dict[str, Any] | None, Field(None, description="resources of the producer container")
    ]

    @model_validator(mode="after")
    def _valid_live_settings(self) -> "ProducerSpec":
        try:
            self.live()
        except ValidationError as err:
            raise ValueError(validation_message(err)) from None
        return self

    @property
    def pods(self) -> int:
        """Pods to run: 0 when Stopped, else ``replicas``."""
        return 0 if self.state == "Stopped" else self.replicas

    def live(self) -> LiveSettings:
        """The live settings of one pod: the rate split between the replicas, Stopped as Paused."""
        return LiveSettings.model_validate(
            {
                **{name: getattr(self, name) for name in LiveSettings.model_fields},
                "rate": self.rate / self.replicas,
                "state": "Running" if self.state == "Running" else "Paused",
            }
        )

    def live_document(self) -> dict[str, Any]:
        """The live settings document of one pod: the fields the Producer sets, with ``live()``'s rate and
        state."""
        given = self.model_dump(
            mode="json",
            by_alias=True,
            exclude_unset=True,
            include=set(LiveSettings.model_fields) - {"rate", "state"},
        )
        live = self.live()
        return {**given, "rate": live.rate, "state": live.state}
