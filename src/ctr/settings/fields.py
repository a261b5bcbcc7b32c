"""The registry: every ctr setting once, with its type, bounds, default and meaning.

The command models (``ctr.settings.models``), the ``Producer`` CRD, the chart's values schema and
the settings table in docs/architecture.md are all built from these definitions.
"""

from typing import Annotated, Literal

from pydantic import Field, FilePath

from ctr import topics
from ctr.settings.types import Campaigns, Duration, Port, Text, Weights

# Kafka
BootstrapServers = Annotated[
    Text, Field("localhost:9092", description="Kafka bootstrap servers (host:port[,host:port])")
]
ImpressionsTopic = Annotated[Text, Field(topics.IMPRESSIONS, description="topic of impression events")]
ClicksTopic = Annotated[Text, Field(topics.CLICKS, description="topic of click events")]
DlqTopic = Annotated[Text, Field(topics.DLQ, description="dead-letter topic for malformed messages")]
ResultsTopic = Annotated[
    Text,
    Field(topics.RESULTS, description="topic of the CTR rows: JSON, keyed by campaign and window, upserts"),
]
LiveTopic = Annotated[
    Text,
    Field(
        topics.LIVE,
        description="topic of the live CTR rows of open windows and then each window's final row: JSON, "
        "keyed by campaign and window, at least once, not transactional",
    ),
]
Partitions = Annotated[
    int, Field(topics.DEFAULT_PARTITIONS, ge=1, description="partitions of each topic created")
]

# The producer's live settings
Rate = Annotated[float, Field(10.0, gt=0, le=1_000_000, description="target impressions per second")]
ClickProbability = Annotated[
    float,
    Field(
        0.25,
        ge=0,
        le=1,
        description="probability that an impression is clicked (campaigns with a true CTR use that instead)",
    ),
]
MaxClickDelay = Annotated[
    Duration,
    Field(10.0, ge=0, description="a click comes a uniform random delay in [0, this] after its impression"),
]
CampaignList = Annotated[
    Campaigns,
    Field("5", validate_default=True, description="a count N (campaign-1..N) or a list name[=trueCTR],..."),
]
CampaignWeights = Annotated[
    Weights | None,
    Field(None, description="relative weights w1,w2,... of the campaigns (round-robin when unset)"),
]
ProducerState = Annotated[
    Literal["Running", "Paused"],
    Field("Running", description="Running sends impressions; Paused sends only already scheduled clicks"),
]

# The producer's other settings
Seed = Annotated[int | None, Field(None, ge=0, description="seed for a reproducible run (random when unset)")]
MaxEvents = Annotated[
    int | None, Field(None, ge=1, description="stop after this many impressions (unbounded when unset)")
]
RunDuration = Annotated[
    Duration | None, Field(None, gt=0, description="stop after this long (unbounded when unset)")
]
DrainTimeout = Annotated[
    Duration | None,
    Field(
        None,
        ge=0,
        description="on shutdown, send clicks coming due within this long (default: max-click-delay)",
    ),
]
ConfigFile = Annotated[
    FilePath | None,
    Field(None, description="JSON/YAML file of live settings, re-read when it changes and on SIGHUP"),
]
ConfigMap = Annotated[
    Text | None,
    Field(
        None,
        description="name of a Kubernetes ConfigMap of live settings (key settings.yaml), "
        "watched through the API",
    ),
]
Namespace = Annotated[
    Text | None, Field(None, description="Kubernetes namespace of the config map (default: the pod's own)")
]
MetricsPort = Annotated[
    Port | None, Field(None, description="serve Prometheus metrics on this port (none when unset)")
]
ProgressInterval = Annotated[
    Duration, Field(5.0, gt=0, description="how often to print a progress line to stderr")
]

# The local broker (Apache Kafka on 127.0.0.1)
DEFAULT_BROKER_HEAP = "512m"
BrokerPort = Annotated[
    Port | None,
    Field(None, description="port of the local Kafka broker on 127.0.0.1 (a free one when unset)"),
]
BrokerDataDir = Annotated[
    Text,
    Field(
        "ctr-data/broker",
        description="the local Kafka broker's directory: its log directory (the topics, kept across "
        "restarts), configuration and log",
    ),
]
BrokerHeap = Annotated[
    str,
    Field(
        DEFAULT_BROKER_HEAP,
        pattern=r"^[1-9][0-9]*[mg]$",
        description="maximum heap of the local Kafka broker's JVM (-Xmx), e.g. 256m, 512m, 1g",
    ),
]

# The job
OutputDir = Annotated[
    Text,
    Field(
        "ctr-data/results",
        description="directory of the committed CSV results "
        "(window_day=<YYYY-MM-DD>/campaign_bucket=<0-f>/part-...)",
    ),
]
CheckpointDir = Annotated[
    Text,
    Field(
        "ctr-data/checkpoints", description="directory of the job's checkpoints (retained on cancellation)"
    ),
]
CheckpointInterval = Annotated[
    Duration, Field(10.0, gt=0, description="how often the job checkpoints, and so commits results")
]
Window = Annotated[Duration, Field(30.0, gt=0, description="size of the tumbling CTR windows")]
JoinBound = Annotated[
    Duration,
    Field(15.0, ge=0, description="a click counts if it comes within this long after its impression"),
]
OutOfOrderness = Annotated[
    Duration, Field(5.0, ge=0, description="how late an event may come (watermark = max event time - this)")
]
UpdateInterval = Annotated[
    Duration,
    Field(
        1.0,
        ge=0,
        description="how often at most a live row of an open window is sent to live-topic (0: no live rows)",
    ),
]
IdleTimeout = Annotated[
    Duration,
    Field(
        60.0, gt=0, description="a partition with no events for this long stops holding the watermark back"
    ),
]
Parallelism = Annotated[int, Field(1, ge=1, description="parallelism of the job")]
FromCheckpoint = Annotated[
    Text | None,
    Field(
        None,
        description="a checkpoint path to start from, "
        "or 'latest' for the newest retained one in checkpoint-dir",
    ),
]
GroupId = Annotated[
    Text, Field("ctr-job", description="Kafka consumer group of the job (offsets committed on checkpoints)")
]
RestartAttempts = Annotated[
    int,
    Field(3, ge=0, description="with restart-strategy fixed-delay: restarts before the job fails for good"),
]
RestartStrategy = Annotated[
    Literal["fixed-delay", "exponential-delay"],
    Field(
        "fixed-delay",
        description="fixed-delay: up to restart-attempts restarts 2 s apart, then the job fails "
        "(one machine); exponential-delay: restarts without end, 1 s doubling up to 5 min, "
        "reset after 1 h without a failure (a cluster)",
    ),
]
KafkaWait = Annotated[
    Duration,
    Field(
        10.0,
        ge=0,
        description="how long the job waits at start for Kafka and its topics, saying what it waits for",
    ),
]
LogDir = Annotated[Text, Field("ctr-data/logs", description="directory of Flink's own log files")]
FlinkLogLevel = Annotated[
    Literal["ERROR", "WARN", "INFO", "DEBUG"], Field("WARN", description="level of Flink's own log")
]
JobJars = Annotated[
    Text,
    Field(
        "auto",
        description=(
            "jars the job adds to Flink: 'auto' (ctr's Java classes, the Kafka connector and "
            "kafka-clients, as make setup builds them in job/java/target), 'classpath' (all on "
            "Flink's classpath already, as in the job image), or paths a.jar,b.jar,c.jar"
        ),
    ),
]
JvmHeap = Annotated[
    str,
    Field(
        "1g",
        pattern=r"^[1-9][0-9]*[mg]$",
        description="heap of each JVM of the local Flink cluster, e.g. 512m, 1g, 4g: the JobManager's "
        "heap and each TaskManager's task heap (the job image's are sized by the FlinkDeployment instead)",
    ),
]
TaskManagers = Annotated[
    int, Field(1, ge=1, le=16, description="TaskManager processes of the local Flink cluster")
]
TaskSlots = Annotated[
    int,
    Field(
        2,
        ge=1,
        le=64,
        description="task slots of each TaskManager of the local Flink cluster; the chart's job.taskSlots "
        "(its default is this one)",
    ),
]
WebUiPort = Annotated[
    int,
    Field(
        8081,
        ge=0,
        le=65535,
        description="port of the local Flink cluster's Web UI and REST API on 127.0.0.1 (0: a free one)",
    ),
]

PublishResults = Annotated[
    bool,
    Field(
        False,
        description="also write every CTR row to results-topic (transactional where the broker supports it)",
    ),
]

# The operator
Namespaces = Annotated[
    Text | None,
    Field(
        None, description="namespaces whose Producers the operator manages, a,b (all namespaces when unset)"
    ),
]
Peering = Annotated[
    Text,
    Field(
        "standalone",
        description="'standalone' (one operator replica) or the name of a kopf peering object for several",
    ),
]
ResyncInterval = Annotated[
    Duration,
    Field(
        30.0, gt=0, description="how often the operator reconciles every Producer and refreshes its status"
    ),
]
ProducerImage = Annotated[
    Text, Field("ctr-producer:0.1.0", description="image of producer pods whose Producer names none")
]

# The demo
DataDir = Annotated[
    Text,
    Field(
        "ctr-data/demo",
        description="where the demo keeps its broker's topics, results, checkpoints and logs "
        "(cleared at start)",
    ),
]
