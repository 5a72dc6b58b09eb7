"""kafka: publish OTLP data to a Kafka topic."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from vigil.destinations.base import (
    ConfigValue,
    Destination,
    Exporter,
    ExporterContext,
    SinkOptions,
    retry_on_failure,
    sending_queue,
    tls,
)
from vigil.models.base import SPACE, CelRule, VigilModel, matches
from vigil.models.common import TLS, SecretValue

HOST_PORT = rf"^[^{SPACE}/:]+:[0-9]{{1,5}}$"


class KafkaSASL(VigilModel):
    """SASL authentication to the Kafka brokers."""

    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism."
    )
    username: SecretValue = Field(description="SASL user name.")
    password: SecretValue = Field(description="SASL password, from a Secret (valueFrom).")


class KafkaDestination(VigilModel):
    """Publish OTLP data to a Kafka topic."""

    cel_rules = (
        CelRule(
            rule=f"self.brokers.all(b, b.matches(r'{HOST_PORT}'))",
            message="every broker must be host:port, e.g. kafka-0.kafka:9092",
            check=lambda m: all(matches(HOST_PORT, b) for b in m.brokers),
        ),
    )

    brokers: list[Annotated[str, StringConstraints(max_length=512)]] = Field(
        min_length=1, max_length=32, description="Bootstrap brokers as host:port."
    )
    topic: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9._-]+$", max_length=249)] = Field(
        description="Topic to publish to (the same topic for every signal of this sink)."
    )
    encoding: Literal["otlp_proto", "otlp_json"] = Field(default="otlp_proto", description="Message encoding.")
    protocol_version: Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")] = Field(
        default="2.1.0", description="Kafka protocol version of the brokers."
    )
    sasl: KafkaSASL | None = Field(default=None, description="SASL authentication.")
    tls: TLS | None = Field(default=None, description="TLS settings; omit for plaintext.")


def exporter(d: KafkaDestination, options: SinkOptions, ctx: ExporterContext) -> Exporter:
    """A ``kafka`` exporter writing every signal of the sink to the one topic."""
    config: dict[str, ConfigValue] = {"brokers": list(d.brokers), "protocol_version": d.protocol_version}
    for signal in options.signals:
        config[signal] = {"topic": d.topic, "encoding": d.encoding}
    if d.sasl is not None:
        config["auth"] = {
            "sasl": {
                "mechanism": d.sasl.mechanism,
                "username": ctx.secret("sasl.username", d.sasl.username, "SASL_USERNAME"),
                "password": ctx.secret("sasl.password", d.sasl.password, "SASL_PASSWORD"),
            }
        }
    config.update(tls(ctx, d.tls))
    config.update(retry_on_failure(options))
    config.update(sending_queue(options))
    return Exporter("kafka", config)


DESTINATION = Destination(
    field="kafka",
    model=KafkaDestination,
    description="Kafka destination.",
    components=("kafka",),
    exporter=exporter,
    queued=True,
    example={"brokers": ["kafka-0.kafka:9092"], "topic": "telemetry"},
)
