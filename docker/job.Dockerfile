# The CTR job image: the official Flink image, PyFlink of the same version, the Kafka connector,
# ctr's event format, ctr.
ARG FLINK_VERSION=2.0.2

# ctr's `ctr-event` format (job/java), compiled against the image's own Flink jars.
FROM flink:${FLINK_VERSION}-scala_2.12-java17 AS flink
FROM eclipse-temurin:17-jdk-jammy AS event-format
COPY --from=flink /opt/flink/lib /opt/flink/lib
COPY job/java /src
RUN cd /src && javac --release 17 -nowarn -cp '/opt/flink/lib/*' -d /classes $(find . -name '*.java') \
 && cp -r META-INF /classes/ \
 && jar --create --file /ctr-event-format.jar -C /classes .

FROM flink
ARG FLINK_VERSION

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# PyFlink of exactly the image's Flink version, and the Python driver on the classpath.
RUN pip install --no-cache-dir "apache-flink==${FLINK_VERSION}" \
 && cp /opt/flink/opt/flink-python-${FLINK_VERSION}.jar /opt/flink/lib/

# The Kafka connector built for Flink 2.0 (4.0.1-2.0) and its kafka-clients, the same jars the
# tests use, verified against pinned checksums.
ARG CONNECTOR_WHEEL=shigawire-apache-flink-libraries==2.0.0.post1
RUN pip download --no-cache-dir --no-deps --dest /tmp/wheel "${CONNECTOR_WHEEL}" \
 && cd /tmp/wheel && python3 -m zipfile -e *.whl /tmp/wheel/x \
 && cp x/pyflink/lib/flink-connector-kafka.jar /opt/flink/lib/flink-connector-kafka-4.0.1-2.0.jar \
 && cp x/pyflink/lib/kafka-clients.jar /opt/flink/lib/kafka-clients.jar \
 && echo "842885a51c768b2f31c946a2071656c166ee8cc6d3c02fe6c557e134e03bf228  /opt/flink/lib/flink-connector-kafka-4.0.1-2.0.jar" | sha256sum -c - \
 && echo "7568b998572d256f0b7bc0afdc1b7a2588b8b08415c62ce314c864a6851ae9d9  /opt/flink/lib/kafka-clients.jar" | sha256sum -c - \
 && rm -rf /tmp/wheel

COPY --from=event-format /ctr-event-format.jar /opt/flink/lib/ctr-event-format.jar

# ctr itself, and the file the FlinkDeployment runs with `-py`.
COPY pyproject.toml README.md /opt/ctr/src/
COPY ctr /opt/ctr/src/ctr
COPY producer /opt/ctr/src/producer
COPY job /opt/ctr/src/job
COPY operator /opt/ctr/src/operator
RUN pip install --no-cache-dir /opt/ctr/src && rm -rf /opt/ctr/src
COPY job/flink_entry.py /opt/ctr/flink_entry.py

USER flink
