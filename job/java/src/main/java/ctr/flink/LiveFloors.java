package ctr.flink;

import java.io.IOException;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The floors of a restored {@link LiveCtr}: the last row per window on the live topic, read once,
 * from each partition's first record stamped at or after a given time (or from its beginning) to its
 * end offset at the start, uncommitted records too (a consumer that reads them may have shown them),
 * without a consumer group. The rows are JSON, as
 * Flink's {@code json} format writes them; the last value per (campaign_id, window_start) wins and
 * a tombstone (a null value) removes its key's. A record that is not a live row is skipped; one WARN
 * says how many were. When the topic cannot be read within the wait, it logs a WARN and gives no floors.
 */
final class LiveFloors implements LiveCtr.FloorSource {

    /** How long reading the topic may take in all. */
    static final Duration WAIT = Duration.ofSeconds(60);

    private static final Duration POLL = Duration.ofMillis(500);
    private static final Logger LOG = LoggerFactory.getLogger(LiveFloors.class);

    private final String bootstrapServers;
    private final String topic;
    private final String timePattern;
    private final Duration wait;

    /** The floors on {@code topic} at {@code bootstrapServers}, window starts in UTC with {@code timePattern}. */
    LiveFloors(String bootstrapServers, String topic, String timePattern) {
        this(bootstrapServers, topic, timePattern, WAIT);
    }

    LiveFloors(String bootstrapServers, String topic, String timePattern, Duration wait) {
        this.bootstrapServers = bootstrapServers;
        this.topic = topic;
        this.timePattern = timePattern;
        this.wait = wait;
    }

    @Override
    public Map<Tuple2<String, Long>, LiveCtr.Floor> read(long sinceMs) {
        Latest latest = new Latest(timePattern);
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(properties(), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            readAll(consumer, sinceMs, latest, System.nanoTime() + wait.toNanos());
        } catch (KafkaException e) {
            LOG.warn(
                    "Could not read the live topic {} (waiting {} s at most): the live rows go on without floors; {}",
                    topic,
                    wait.toSeconds(),
                    e.toString());
            return Map.of();
        }
        if (latest.skipped > 0) {
            LOG.warn(
                    "Skipped {} records of the live topic {} that are not live rows; the first: {}",
                    latest.skipped,
                    topic,
                    latest.firstSkipped);
        }
        LOG.info(
                "Read {} floors from the live topic {} ({})",
                latest.floors.size(),
                topic,
                sinceMs == Long.MIN_VALUE ? "all of it" : "its records since " + Instant.ofEpochMilli(sinceMs));
        return latest.floors;
    }

    private Properties properties() {
        Properties properties = new Properties();
        properties.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        properties.setProperty(ConsumerConfig.CLIENT_ID_CONFIG, "ctr-live-floors");
        properties.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        properties.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        properties.setProperty(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        return properties;
    }

    /**
     * Every partition from its first record stamped {@code sinceMs} or later (from its beginning with
     * {@code Long.MIN_VALUE}) to its end offset, before {@code deadline} (nanoTime).
     */
    private void readAll(KafkaConsumer<byte[], byte[]> consumer, long sinceMs, Latest latest, long deadline) {
        List<TopicPartition> partitions =
                consumer.partitionsFor(topic, left(deadline)).stream()
                        .map(partition -> new TopicPartition(partition.topic(), partition.partition()))
                        .toList();
        consumer.assign(partitions);
        if (sinceMs == Long.MIN_VALUE) {
            consumer.seekToBeginning(partitions);
        } else {
            Map<TopicPartition, Long> times = new HashMap<>();
            partitions.forEach(partition -> times.put(partition, sinceMs));
            consumer.offsetsForTimes(times, left(deadline))
                    .forEach(
                            (partition, found) -> {
                                if (found == null) {
                                    consumer.seekToEnd(List.of(partition));
                                } else {
                                    consumer.seek(partition, found.offset());
                                }
                            });
        }
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, left(deadline));
        while (!reached(consumer, ends, deadline)) {
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(min(POLL, left(deadline)))) {
                if (record.offset() < ends.get(new TopicPartition(record.topic(), record.partition()))) {
                    latest.add(record);
                }
            }
        }
    }

    private static boolean reached(
            KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> ends, long deadline) {
        for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
            if (consumer.position(end.getKey(), left(deadline)) < end.getValue()) {
                return false;
            }
        }
        return true;
    }

    /** The time left until {@code deadline}; a {@link TimeoutException} when there is none. */
    private static Duration left(long deadline) {
        long nanos = deadline - System.nanoTime();
        if (nanos <= 0) {
            throw new TimeoutException("the wait for the live topic is over");
        }
        return Duration.ofNanos(nanos);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** The last row per window of the records added so far, and how many were skipped. */
    static final class Latest {
        final Map<Tuple2<String, Long>, LiveCtr.Floor> floors = new HashMap<>();
        long skipped;

        /** Where the first skipped record is, and why. */
        String firstSkipped;

        private final ObjectMapper json = new ObjectMapper();
        private final DateTimeFormatter format;

        Latest(String timePattern) {
            format = DateTimeFormatter.ofPattern(timePattern).withZone(ZoneOffset.UTC);
        }

        void add(ConsumerRecord<byte[], byte[]> record) {
            try {
                if (record.value() == null) {
                    floors.remove(window(tree(record.key())));
                } else {
                    JsonNode row = tree(record.value());
                    floors.put(window(row), floor(row));
                }
            } catch (IOException | DateTimeException | IllegalArgumentException e) {
                skipped++;
                if (firstSkipped == null) {
                    firstSkipped =
                            "partition " + record.partition() + " offset " + record.offset() + ": " + e.getMessage();
                }
            }
        }

        private JsonNode tree(byte[] bytes) throws IOException {
            if (bytes == null) {
                throw new IllegalArgumentException("a tombstone without a key");
            }
            return json.readTree(bytes);
        }

        private Tuple2<String, Long> window(JsonNode row) {
            Instant start = format.parse(text(row, "window_start"), Instant::from);
            return Tuple2.of(text(row, "campaign_id"), start.toEpochMilli());
        }

        private static LiveCtr.Floor floor(JsonNode row) {
            JsonNode isFinal = field(row, "final");
            if (!isFinal.isBoolean()) {
                throw new IllegalArgumentException("final is not a boolean");
            }
            return new LiveCtr.Floor(count(row, "impressions"), count(row, "clicks"), isFinal.booleanValue());
        }

        private static String text(JsonNode row, String name) {
            JsonNode value = field(row, name);
            if (!value.isTextual()) {
                throw new IllegalArgumentException(name + " is not a string");
            }
            return value.textValue();
        }

        private static long count(JsonNode row, String name) {
            JsonNode value = field(row, name);
            if (!value.isIntegralNumber()) {
                throw new IllegalArgumentException(name + " is not an integer");
            }
            return value.longValue();
        }

        private static JsonNode field(JsonNode row, String name) {
            JsonNode value = row.get(name);
            if (value == null) {
                throw new IllegalArgumentException("no " + name);
            }
            return value;
        }
    }
}
